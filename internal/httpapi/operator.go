package httpapi

import (
	"context"
	"net/http"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/custody"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
)

// Custody is the key ceremony as the API needs it.
type Custody interface {
	Status(ctx context.Context) (custody.Status, error)
	Init(ctx context.Context, n, k int, recipients []string) ([]string, error)
	Submit(ctx context.Context, share string) (custody.Status, error)
	Seal(ctx context.Context, by string) error
	StartRekey(ctx context.Context, n, k int, recipients []string) (custody.Status, error)
	SubmitRekey(ctx context.Context, share string) (custody.Status, []string, error)
	CancelRekey()
}

// Staff authenticates staff tokens and makes the bootstrap identity.
type Staff interface {
	Authenticate(ctx context.Context, token string) (staff.Identity, error)
	Bootstrap(ctx context.Context) (staff.Identity, string, error)
}

// Regions describes the regions and their keys, and rotates region keys.
type Regions interface {
	RegionStatus(ctx context.Context) []api.RegionStatus
	ErasureStatus() *api.ErasureStatus
	StartRotation(ctx context.Context, region candor.RegionID, by string) error
}

type staffHandler func(w http.ResponseWriter, r *http.Request, who staff.Identity)

// staffOnly authenticates a staff token, or a staff console session with
// its CSRF and Origin rules (staffIdentity), and, when roles are given,
// requires one of them (otherwise the service decides by role).
func (h *Handler) staffOnly(next staffHandler, roles ...staff.Role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who, err := h.staffIdentity(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(roles) > 0 && !who.Has(roles...) {
			h.writeError(w, r, candor.Errorf(candor.Forbidden, "this needs one of the roles %v", roles))
			return
		}
		next(w, r, who)
	}
}

func (h *Handler) operatorStatus(w http.ResponseWriter, r *http.Request) {
	h.writeStatus(w, r, nil)
}

// writeStatus answers with the operator status, after st if given.
func (h *Handler) writeStatus(w http.ResponseWriter, r *http.Request, st *custody.Status) {
	if st == nil {
		s, err := h.svc.Custody.Status(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		st = &s
	}
	writeJSON(w, http.StatusOK, h.apiStatus(r.Context(), *st))
}

func (h *Handler) apiStatus(ctx context.Context, st custody.Status) api.OperatorStatus {
	out := api.OperatorStatus{
		Initialized: st.Initialized, Sealed: st.Sealed, Shares: st.Shares, Threshold: st.Threshold,
		Submitted: st.Submitted, RootVersion: st.RootVersion, Regions: h.svc.Regions.RegionStatus(ctx),
		Erasure: h.svc.Regions.ErasureStatus(),
	}
	if rk := st.Rekey; rk != nil {
		out.Rekey = &api.RekeyStatus{Shares: rk.Shares, Threshold: rk.Threshold, Submitted: rk.Submitted, Needed: rk.Needed,
			CustodianKeys: rk.CustodianKeys}
	}
	return out
}

func (h *Handler) operatorRotate(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	req, err := decode[api.RotateRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Regions.StartRotation(r.Context(), candor.RegionID(req.Region), audit.StaffActor(who.ID)); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("region key rotation started", "region", req.Region, "staff", who.ID)
	h.writeStatus(w, r, nil)
}

func (h *Handler) operatorRekey(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	req, err := decode[api.RekeyRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st, err := h.svc.Custody.StartRekey(r.Context(), req.Shares, req.Threshold, req.CustodianKeys)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("rekey started: waiting for the current custodians' shares", "shares", req.Shares, "threshold", req.Threshold, "staff", who.ID)
	h.writeStatus(w, r, &st)
}

func (h *Handler) operatorCancelRekey(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	h.svc.Custody.CancelRekey()
	h.log.Warn("rekey cancelled", "staff", who.ID)
	h.writeStatus(w, r, nil)
}

func (h *Handler) operatorRekeyShare(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.UnsealRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st, shares, err := h.svc.Custody.SubmitRekey(r.Context(), req.Share)
	if err != nil {
		h.log.Warn("rekey share refused", "kind", candor.KindOf(err).Code())
		h.writeError(w, r, err)
		return
	}
	if shares != nil {
		h.log.Warn("rekey done: the root key was replaced; only the new shares unseal the server", "root_version", st.RootVersion)
	}
	writeJSON(w, http.StatusOK, api.RekeyShareResponse{Status: h.apiStatus(r.Context(), st), Shares: shares})
}

func (h *Handler) operatorInit(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.InitRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	shares, err := h.svc.Custody.Init(r.Context(), req.Shares, req.Threshold, req.CustodianKeys)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	who, token, err := h.svc.Staff.Bootstrap(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("key ceremony done: server initialised and unsealed", "shares", req.Shares, "threshold", req.Threshold,
		"encrypted_to_custodians", len(req.CustodianKeys) > 0, "bootstrap_staff", who.ID)
	writeJSON(w, http.StatusCreated, api.InitResponse{Shares: shares, StaffToken: token})
}

func (h *Handler) operatorUnseal(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.UnsealRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st, err := h.svc.Custody.Submit(r.Context(), req.Share)
	if err != nil {
		h.log.Warn("unseal share refused", "kind", candor.KindOf(err).Code())
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("unseal share accepted", "submitted", st.Submitted, "threshold", st.Threshold, "sealed", st.Sealed)
	h.writeStatus(w, r, &st)
}

func (h *Handler) operatorSeal(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if err := h.svc.Custody.Seal(r.Context(), audit.StaffActor(who.ID)); err != nil {
		h.log.Error("sealed, but the seal could not be logged", "err", err)
	}
	h.log.Warn("server sealed on demand", "staff", who.ID)
	h.writeStatus(w, r, nil)
}

// Console is what the staff console's overview reads of the audit logs.
type Console interface {
	Names() []string
	Size(ctx context.Context, log string) (int64, error)
	LastCheckpoint(ctx context.Context, log string) (store.Checkpoint, bool, error)
	LastVerified(log string) (audit.Verified, bool)
}

// operatorConsole is the console's overview, for any staff role: each
// audit log's size, last signed checkpoint and last verification, the
// migration in progress and the retention runs.
func (h *Handler) operatorConsole(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	out := api.Console{Logs: []api.ConsoleLog{}, Migrations: []api.Migration{}}
	for _, name := range h.svc.Console.Names() {
		size, err := h.svc.Console.Size(r.Context(), name)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		l := api.ConsoleLog{Name: name, Size: size}
		c, ok, err := h.svc.Console.LastCheckpoint(r.Context(), name)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if ok {
			l.Checkpoint = &api.ConsoleCheckpoint{Size: c.Size, Time: c.Created}
		}
		if v, ok := h.svc.Console.LastVerified(name); ok {
			l.Verified = &api.ConsoleVerified{Time: v.Time, OK: v.OK, Problem: v.Problem}
		}
		out.Logs = append(out.Logs, l)
	}
	if m, ok, err := h.svc.Migrations.Unfinished(r.Context()); err != nil {
		h.writeError(w, r, err)
		return
	} else if ok {
		out.Migrations = append(out.Migrations, m)
	}
	last, running := h.svc.Retention.Runs()
	out.Retention = api.ConsoleRetention{LastRun: timePtr(last), Running: running}
	writeJSON(w, http.StatusOK, out)
}
