package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
)

func (h *Handler) evaluateHandle(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.HandleRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ev, err := h.svc.Accounts.EvaluateHandle(r.Context(), req.Blinded)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.HandleResponse{Evaluated: ev})
}

func (h *Handler) salt(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.SaltRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	salt, kdf, err := h.svc.Accounts.Salt(r.Context(), req.Handle)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.SaltResponse{Salt: salt, KDF: toAPIKDF(kdf)})
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.SignupRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	g, err := h.svc.Accounts.Signup(r.Context(), account.Signup{
		Handle: req.Handle, Salt: req.Salt, AuthKey: req.AuthKey, Pseudonym: req.Device.Pseudonym,
		KDF:     store.KDF{Time: req.KDF.Time, MemoryKiB: req.KDF.MemoryKiB, Threads: req.KDF.Threads},
		Country: req.Country,
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toAPISession(g))
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	req, err := decode[api.LoginRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if req.Browser {
		h.browserLogin(w, r, req)
		return
	}
	g, err := h.svc.Accounts.Login(r.Context(), req.Handle, req.AuthKey, req.Device.Pseudonym)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toAPISession(g))
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	cred := credentialOf(r)
	if err := h.svc.Accounts.Logout(r.Context(), cred.token); err != nil {
		h.writeError(w, r, err)
		return
	}
	if cred.browser {
		clearSessionCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	ctx := r.Context()
	created, err := h.svc.Accounts.Created(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	devs, err := h.apiDevices(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	state, err := h.svc.Consent.State(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Account{
		Account: string(p.Account), Region: string(p.Region), Created: created,
		Devices: devs, Consents: toAPIConsents(state),
	})
}

// deleteAccount deletes the caller's account. A browser must send the
// auth key derived again from the password (DeleteConfirmed): whoever
// finds a browser left signed in cannot delete the account.
// summary answers GET /v1/account/summary: per category, its consent and
// what the account keeps (sums, no record read), and the region's
// retention rules.
func (h *Handler) summary(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	ctx := r.Context()
	created, err := h.svc.Accounts.Created(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	state, err := h.svc.Consent.State(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	usage, err := h.svc.Accounts.Usage(ctx, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.AccountSummary{Account: string(p.Account), Region: string(p.Region), Created: created,
		Categories: make([]api.CategorySummary, 0, len(candor.Categories())), Retention: h.svc.Retention.RetentionRules(p.Region)}
	for _, c := range candor.Categories() {
		ev, u := state[c], usage[c]
		cs := api.CategorySummary{Category: string(c), On: ev.On, Records: u.Records, Bytes: u.Bytes}
		if ev.Seq != 0 {
			t := ev.Time
			cs.Since = &t
		}
		if !u.LastChange.IsZero() {
			t := u.LastChange
			cs.LastChange = &t
		}
		out.Categories = append(out.Categories, cs)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) deleteAccount(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	cred := credentialOf(r)
	if !cred.browser {
		if err := h.svc.Accounts.Delete(r.Context(), p); err != nil {
			h.writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	req, err := decode[api.DeleteAccountRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Accounts.DeleteConfirmed(r.Context(), p, req.AuthKey); err != nil {
		h.writeError(w, r, err)
		return
	}
	clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) devices(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	devs, err := h.apiDevices(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]api.Device{"devices": devs})
}

func (h *Handler) revokeDevice(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	id := r.PathValue("id")
	if !candor.ValidID(id) {
		h.writeError(w, r, candor.E(candor.NotFound, "no such device on this account"))
		return
	}
	if err := h.svc.Accounts.RevokeDevice(r.Context(), p, candor.DeviceID(id)); err != nil {
		h.writeError(w, r, err)
		return
	}
	if credentialOf(r).browser && candor.DeviceID(id) == p.Device {
		clearSessionCookie(w, r) // the browser ended its own session
	}
	w.WriteHeader(http.StatusNoContent)
}

var errAppPasswordBrowser = candor.E(candor.Forbidden, "app passwords are made on a phone: candor device app-password create")

func (h *Handler) createAppPassword(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	if credentialOf(r).browser {
		h.writeError(w, r, errAppPasswordBrowser)
		return
	}
	req, err := decode[api.AppPasswordRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ap, err := h.svc.Accounts.CreateAppPassword(r.Context(), p, req.Name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, api.AppPassword{ID: string(ap.Device.ID), Name: ap.Device.Name, Created: ap.Device.Created,
		Username: ap.Username, Password: ap.Password, CardDAVPath: api.CardDAVPath})
}

func (h *Handler) consents(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	state, err := h.svc.Consent.State(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Consents{Consents: toAPIConsents(state), Region: string(p.Region)})
}

func (h *Handler) ledger(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	evs, err := h.svc.Consent.Events(r.Context(), p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.Ledger{Events: make([]api.ConsentEvent, len(evs))}
	for i, e := range evs {
		out.Events[i] = api.ConsentEvent{Seq: e.Seq, Category: string(e.Category), On: e.On,
			Device: string(e.Device), Time: e.Time, PolicyVersion: e.PolicyVersion}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) setConsent(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	c, err := candor.ParseCategory(r.PathValue("category"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	req, err := decode[api.ConsentRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ev, err := h.svc.Consent.Set(r.Context(), p, c, req.On, req.PolicyVersion)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIConsent(c, ev))
}

func (h *Handler) push(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	c, err := recordCategory(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	req, err := decode[api.PushRequest](w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	changes := make([]records.Change, len(req.Changes))
	for i, ch := range req.Changes {
		changes[i] = records.Change{ID: ch.ID, BaseVersion: ch.BaseVersion, Deleted: ch.Deleted, Data: ch.Data}
	}
	res, err := h.svc.Records.Push(r.Context(), p, c, req.Epoch, changes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.PushResponse{Epoch: res.Epoch, Results: make([]api.ChangeResult, len(res.Results))}
	for i, x := range res.Results {
		cr := api.ChangeResult{ID: x.ID, Status: api.Applied, Version: x.Version}
		if x.Conflict {
			cr.Status = api.Conflict
			cur := toAPIRecord(x.Current)
			cr.Current = &cur
		}
		out.Results[i] = cr
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) pull(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	c, err := recordCategory(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	since, err := intParam(q.Get("since"), 0, "since")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	limit, err := intParam(q.Get("limit"), api.DefaultFeedPage, "limit")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	switch q.Get("full") {
	case "", "0", "false":
	case "1", "true":
		ctx = records.WithFullPass(ctx) // reading the category from the start, page by page
	default:
		h.writeError(w, r, candor.E(candor.Invalid, "full is 1 (reading the category from the start) or absent"))
		return
	}
	feed, err := h.svc.Records.Pull(ctx, p, c, since, int(limit))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := api.Feed{Epoch: feed.Epoch, Next: feed.Next, More: feed.More, Reset: feed.Reset, Records: make([]api.Record, len(feed.Records))}
	for i, rec := range feed.Records {
		out.Records[i] = toAPIRecord(rec)
	}
	writeJSON(w, http.StatusOK, out)
}

// recordCategory is the {category} of a records route: one that syncs as
// records (not messaging).
func recordCategory(r *http.Request) (candor.Category, error) {
	c, err := candor.ParseCategory(r.PathValue("category"))
	if err == nil && !c.Synced() {
		err = candor.Errorf(candor.Invalid, "%s is not synced as records", c)
	}
	return c, err
}

func intParam(s string, def int64, name string) (int64, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, candor.Errorf(candor.Invalid, "query parameter %s must be a whole number", name)
	}
	return n, nil
}

func toAPIKDF(k store.KDF) api.KDF {
	return api.KDF{Time: k.Time, MemoryKiB: k.MemoryKiB, Threads: k.Threads}
}

func toAPISession(g account.Grant) api.Session {
	return api.Session{Account: string(g.Principal.Account), Device: string(g.Principal.Device),
		Region: string(g.Principal.Region), Token: g.Token, ExpiresAt: g.Expires}
}

// apiDevices lists p's account's devices, each saying whether it is the
// caller and whether it holds a live session.
func (h *Handler) apiDevices(ctx context.Context, p candor.Principal) ([]api.Device, error) {
	devs, err := h.svc.Accounts.Devices(ctx, p)
	if err != nil {
		return nil, err
	}
	signedIn, err := h.svc.Accounts.SignedIn(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]api.Device, len(devs))
	for i, d := range devs {
		out[i] = api.Device{ID: string(d.ID), Created: d.Created, Current: d.ID == p.Device, Kind: d.Kind, Name: d.Name,
			SignedIn: signedIn[d.ID]}
	}
	return out, nil
}

func toAPIConsent(c candor.Category, ev store.ConsentEvent) api.Consent {
	out := api.Consent{Category: string(c), On: ev.On}
	if ev.Seq != 0 {
		t := ev.Time
		out.Since, out.Device, out.PolicyVersion = &t, string(ev.Device), ev.PolicyVersion
	}
	if ev.On {
		out.Epoch = ev.Seq
	}
	return out
}

func toAPIConsents(state map[candor.Category]store.ConsentEvent) []api.Consent {
	out := make([]api.Consent, 0, len(candor.Categories()))
	for _, c := range candor.Categories() {
		out = append(out, toAPIConsent(c, state[c]))
	}
	return out
}

func toAPIRecord(r records.Record) api.Record {
	return api.Record{ID: r.ID, Version: r.Version, Seq: r.Seq, Deleted: r.Deleted, Data: r.Data, Modified: r.Modified}
}
