package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/approval"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
)

// StaffAdmin manages staff identities.
type StaffAdmin interface {
	Add(ctx context.Context, by staff.Identity, name string, roles []staff.Role) (staff.Identity, string, error)
	Revoke(ctx context.Context, by staff.Identity, id string) error
	List(ctx context.Context, by staff.Identity) ([]store.Staff, error)
}

// Access handles access requests, approvals and staff reads.
type Access interface {
	Quorum() int
	Request(ctx context.Context, who staff.Identity, account candor.AccountID, cats []candor.Category, reason string, d time.Duration) (store.AccessRequest, error)
	Approve(ctx context.Context, who staff.Identity, id string, assertion []byte) (store.AccessRequest, []store.Approval, error)
	List(ctx context.Context, who staff.Identity) ([]store.AccessRequest, error)
	RefuseAsOwner(ctx context.Context, p candor.Principal, id string) (store.AccessRequest, []store.Approval, error)
	Revoke(ctx context.Context, who staff.Identity, id string) error
	Status(ctx context.Context, id string) (store.AccessRequest, []store.Approval, error)
	Read(ctx context.Context, who staff.Identity, id string, c candor.Category) ([]records.Record, error)
	Where(ctx context.Context, id string) (candor.RegionID, error)
	Requests(ctx context.Context, account candor.AccountID) ([]store.AccessRequest, error)
	ApproveAsOwner(ctx context.Context, p candor.Principal, id string) error
	SetOwnerApproval(ctx context.Context, p candor.Principal, required bool) error
	OwnerApprovalRequired(ctx context.Context, p candor.Principal) (bool, error)
}

// Audit proves and verifies the audit logs.
type Audit interface {
	VerifierKey() (string, error)
	Checkpoint(ctx context.Context, log string) (store.Checkpoint, error)
	ProveConsistency(ctx context.Context, log string, old, n int64) (tlog.TreeProof, error)
	ProveInclusion(ctx context.Context, log string, index, n int64) (tlog.RecordProof, error)
	EntriesFor(ctx context.Context, log string, account candor.AccountID, after int64, limit int, c store.Checkpoint) ([]audit.Proof, error)
	Verify(ctx context.Context, log string) (audit.Report, error)
	Names() []string
}

func (h *Handler) staffAdd(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	// A console session makes no staff identity: the new identity's token
	// would outlive the session and approve without a passkey, so a stolen
	// console cookie would become permanent access.
	if err := needToken(who, "adding a staff member"); err != nil {
		h.writeError(w, r, err)
		return
	}
	req, err := decode[api.StaffAddRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	roles, err := staff.ParseRoles(strings.Join(req.Roles, ","))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	id, token, err := h.svc.StaffAdmin.Add(r.Context(), who, req.Name, roles)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	writeJSON(w, http.StatusCreated, api.StaffAdded{ID: id.ID, Name: id.Name, Roles: names, Token: token})
}

func (h *Handler) staffList(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	list, err := h.svc.StaffAdmin.List(r.Context(), who)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.StaffList{Staff: make([]api.StaffMember, len(list))}
	for i, s := range list {
		out.Staff[i] = api.StaffMember{ID: s.ID, Name: s.Name, Roles: s.Roles, Created: s.Created, Revoked: timePtr(s.Revoked)}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) staffRevoke(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if err := h.svc.StaffAdmin.Revoke(r.Context(), who, r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toAPIRequest describes a request, and whether it is a usable grant now.
func (h *Handler) toAPIRequest(req store.AccessRequest, approvals []store.Approval) api.AccessRequest {
	out := api.AccessRequest{ID: req.ID, Requester: req.Requester, Account: string(req.Account), Region: string(req.Region),
		Reason: req.Reason, Duration: req.Duration.String(), Created: req.Created, OwnerApproval: req.OwnerApproval,
		OwnerApproved: timePtr(req.OwnerApproved), Revoked: timePtr(req.Revoked), RefusedByOwner: req.RefusedByOwner, Needed: h.svc.Access.Quorum(),
		Approvals: make([]api.Approval, len(approvals))}
	for _, c := range req.Categories {
		out.Categories = append(out.Categories, string(c))
	}
	for i, a := range approvals {
		method := a.Method
		if method == "" {
			method = store.ApprovedByToken
		}
		out.Approvals[i] = api.Approval{Approver: a.Approver, Time: a.Time, Method: method}
	}
	if g, err := approval.Decide(req, approvals, h.svc.Access.Quorum(), time.Now()); err == nil {
		out.Granted, out.Expires = true, &g.Expires
	} else {
		out.Refusal = candor.Message(err)
	}
	return out
}

func (h *Handler) accessRequest(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	req, err := decode[api.AccessRequestCreate](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		h.writeError(w, r, candor.E(candor.Invalid, "the duration is a number and a unit, such as 30m or 2h"))
		return
	}
	cats := make([]candor.Category, len(req.Categories))
	for i, s := range req.Categories {
		if cats[i], err = candor.ParseCategory(s); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	ar, err := h.svc.Access.Request(r.Context(), who, candor.AccountID(req.Account), cats, req.Reason, d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.toAPIRequest(ar, nil))
}

func (h *Handler) accessStatus(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	ar, approvals, err := h.svc.Access.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toAPIRequest(ar, approvals))
}

// accessApprove approves a request. A staff token needs no body; a console
// session gives {"assertion": ...}, which the approval service checks.
func (h *Handler) accessApprove(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCredentialBytes+1024))
	if err != nil {
		h.writeError(w, r, candor.Errorf(candor.TooLarge, "an approval's body is at most %d bytes", maxCredentialBytes))
		return
	}
	var assertion []byte
	if len(bytes.TrimSpace(body)) > 0 {
		var req api.ApproveRequest
		if err := decodeJSON(body, &req); err != nil {
			h.writeError(w, r, err)
			return
		}
		if a := bytes.TrimSpace(req.Assertion); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
			assertion = a
		}
	}
	ar, approvals, err := h.svc.Access.Approve(r.Context(), who, r.PathValue("id"), assertion)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toAPIRequest(ar, approvals))
}

func (h *Handler) accessRevoke(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if err := h.svc.Access.Revoke(r.Context(), who, r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.accessStatus(w, r, who)
}

func (h *Handler) accessRead(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if h.svc.Homes != nil { // a read is served, and logged, by the account's region
		if region, err := h.svc.Access.Where(r.Context(), r.PathValue("id")); err == nil && h.elsewhere(w, r, region) {
			return
		}
	}
	req, err := decode[api.StaffReadRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c, err := candor.ParseCategory(req.Category)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	recs, err := h.svc.Access.Read(r.Context(), who, r.PathValue("id"), c)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.StaffRead{Request: r.PathValue("id"), Category: string(c), Records: make([]api.Record, len(recs))}
	for i, rec := range recs {
		out.Records[i] = toAPIRecord(rec)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) ownerRequests(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	list, err := h.svc.Access.Requests(r.Context(), p.Account)
	h.writeRequests(w, r, list, err)
}

// accessList lists the newest requests of every account (the console).
func (h *Handler) accessList(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	list, err := h.svc.Access.List(r.Context(), who)
	h.writeRequests(w, r, list, err)
}

// writeRequests answers a list of requests (or err), each with its
// approvals and where it stands.
func (h *Handler) writeRequests(w http.ResponseWriter, r *http.Request, list []store.AccessRequest, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.AccessRequests{Requests: make([]api.AccessRequest, len(list))}
	for i, ar := range list {
		_, approvals, err := h.svc.Access.Status(r.Context(), ar.ID)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		out.Requests[i] = h.toAPIRequest(ar, approvals)
	}
	writeJSON(w, http.StatusOK, out)
}

// ownerRefuse refuses (revokes) a request on the owner's account.
func (h *Handler) ownerRefuse(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	ar, approvals, err := h.svc.Access.RefuseAsOwner(r.Context(), p, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.toAPIRequest(ar, approvals))
}

func (h *Handler) ownerApprove(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	if err := h.svc.Access.ApproveAsOwner(r.Context(), p, r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) ownerSetting(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	req, err := decode[api.StaffAccessSetting](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Access.SetOwnerApproval(r.Context(), p, req.OwnerApproval); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (h *Handler) ownerSettingGet(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	required, err := h.svc.Access.OwnerApprovalRequired(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.StaffAccessSetting{OwnerApproval: required})
}

func (h *Handler) auditKey(w http.ResponseWriter, r *http.Request) {
	key, err := h.svc.Audit.VerifierKey()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.AuditKey{Key: key})
}

func toAPICheckpoint(log string, c store.Checkpoint) api.Checkpoint {
	return api.Checkpoint{Log: log, Size: c.Size, Hash: c.Hash[:], Note: string(c.Note)}
}

func (h *Handler) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	log := r.PathValue("log")
	c, err := h.svc.Audit.Checkpoint(r.Context(), log)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPICheckpoint(log, c))
}

func (h *Handler) auditConsistency(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	old, err1 := strconv.ParseInt(q.Get("old"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("size"), 10, 64)
	if err1 != nil || err2 != nil {
		h.writeError(w, r, candor.E(candor.Invalid, "give old and size as whole numbers"))
		return
	}
	p, err := h.svc.Audit.ProveConsistency(r.Context(), r.PathValue("log"), old, n)
	if err != nil {
		h.writeError(w, r, proofError(err, "no such consistency proof: check the sizes"))
		return
	}
	writeJSON(w, http.StatusOK, api.Proof{Proof: hashes(p)})
}

func (h *Handler) auditInclusion(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	index, err1 := strconv.ParseInt(q.Get("index"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("size"), 10, 64)
	if err1 != nil || err2 != nil {
		h.writeError(w, r, candor.E(candor.Invalid, "give index and size as whole numbers"))
		return
	}
	p, err := h.svc.Audit.ProveInclusion(r.Context(), r.PathValue("log"), index, n)
	if err != nil {
		h.writeError(w, r, proofError(err, "no such inclusion proof: check the index and size"))
		return
	}
	writeJSON(w, http.StatusOK, api.Proof{Proof: hashes(p)})
}

func (h *Handler) auditVerify(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	out := api.AuditVerify{OK: true}
	for _, log := range h.svc.Audit.Names() {
		rep, err := h.svc.Audit.Verify(r.Context(), log)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		out.OK = out.OK && rep.OK
		out.Logs = append(out.Logs, api.AuditReport{Log: rep.Log, Size: rep.Size, Checkpoints: rep.Checkpoints, OK: rep.OK, BadEntry: rep.BadEntry, Problem: rep.Problem})
	}
	h.log.Warn("audit verified", "ok", out.OK, "staff", who.ID)
	writeJSON(w, http.StatusOK, out)
}

// accessLog gives the owner every entry about their account in their home
// region's log, each with an inclusion proof against a fresh checkpoint.
func (h *Handler) accessLog(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	after, err := intParam(r.URL.Query().Get("after"), -1, "after")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	log := string(p.Region)
	c, err := h.svc.Audit.Checkpoint(r.Context(), log)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	const page = 500
	proofs, err := h.svc.Audit.EntriesFor(r.Context(), log, p.Account, after, page+1, c)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.AccessLog{Checkpoint: toAPICheckpoint(log, c)}
	if len(proofs) > page {
		proofs, out.More = proofs[:page], true
	}
	for _, pr := range proofs {
		out.Entries = append(out.Entries, api.AccessLogEntry{Index: pr.Entry.Index, Event: string(pr.Entry.Data), Proof: hashes(pr.Proof)})
	}
	writeJSON(w, http.StatusOK, out)
}

// proofError keeps the kind of a Candor error (an unknown log is NotFound)
// and calls a failure of the proof algorithm itself an invalid request.
func proofError(err error, msg string) error {
	var ce *candor.Error
	if errors.As(err, &ce) {
		return err
	}
	return candor.Wrap(candor.Invalid, msg, err)
}

func hashes[P ~[]tlog.Hash](p P) [][]byte {
	out := make([][]byte, len(p))
	for i, h := range p {
		out[i] = append([]byte(nil), h[:]...)
	}
	return out
}
