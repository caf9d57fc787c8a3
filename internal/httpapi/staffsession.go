package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/staff"
	"github.com/candorcloud/candor/internal/store"
)

// StaffSessions are staff passkeys and the console sessions they open
// (staff.Passkeys).
type StaffSessions interface {
	Origin() string
	RegistrationOptions(ctx context.Context, who staff.Identity) (*protocol.CredentialCreation, error)
	Register(ctx context.Context, who staff.Identity, answer []byte) (store.Passkey, error)
	SignInOptions(ctx context.Context) (*protocol.CredentialAssertion, error)
	SignIn(ctx context.Context, answer []byte) (staff.Session, error)
	Authenticate(ctx context.Context, token string) (staff.Identity, time.Time, error)
	SignOut(ctx context.Context, token string) error
	ApprovalOptions(ctx context.Context, who staff.Identity, request string) (*protocol.CredentialAssertion, error)
}

// StaffCookie is the staff console's session cookie.
const StaffCookie = "candor_staff"

// staffCSRFHeader carries the page's CSRF value with every change made with a
// cookie.
const staffCSRFHeader = "X-Candor-CSRF"

// maxCredentialBytes bounds a passkey answer (a credential or an
// assertion, as the browser encodes it).
const maxCredentialBytes = 64 << 10

var (
	errNoStaff = candor.E(candor.Unauthenticated,
		"this needs a staff token (Authorization: Bearer TOKEN, CANDOR_STAFF_TOKEN) or a staff console sign-in")
	errStaffCSRF   = candor.E(candor.Forbidden, "this change needs the page's CSRF token (X-Candor-CSRF)")
	errStaffOrigin = candor.E(candor.Forbidden, "this request came from another site (Origin): it is refused")
)

// staffIdentity authenticates a staff request: a Bearer staff token, or
// else the console's cookie. With the cookie, an Origin header must be
// the request's own origin or the console's, and every method other than
// GET and HEAD must carry the session's CSRF value — so another site the
// browser visits cannot act with the cookie it sends along.
func (h *Handler) staffIdentity(r *http.Request) (staff.Identity, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			return staff.Identity{}, errNoStaff
		}
		return h.svc.Staff.Authenticate(r.Context(), token)
	}
	token, err := h.staffCookie(r)
	if err != nil {
		return staff.Identity{}, err
	}
	who, _, err := h.svc.StaffSessions.Authenticate(r.Context(), token)
	return who, err
}

// staffCookie returns the console's session token from its cookie, once
// the Origin and CSRF rules hold.
func (h *Handler) staffCookie(r *http.Request) (string, error) {
	c, err := r.Cookie(StaffCookie)
	if err != nil || c.Value == "" || h.svc.StaffSessions == nil {
		return "", errNoStaff
	}
	if err := h.staffSameOrigin(r); err != nil {
		return "", err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		got := r.Header.Get(staffCSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(staff.CSRF(c.Value))) != 1 {
			return "", errStaffCSRF
		}
	}
	return c.Value, nil
}

// staffSameOrigin accepts a request without an Origin header, or whose Origin
// is its own (scheme and Host) or the console's configured origin.
func (h *Handler) staffSameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if strings.EqualFold(origin, scheme+"://"+r.Host) {
		return nil
	}
	if h.svc.StaffSessions != nil && strings.EqualFold(origin, h.svc.StaffSessions.Origin()) {
		return nil
	}
	return errStaffOrigin
}

// readCredential reads a passkey answer's raw JSON, bounded.
func readCredential(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCredentialBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, candor.Errorf(candor.TooLarge, "a passkey answer is at most %d bytes", maxCredentialBytes)
	} else if err != nil {
		return nil, candor.E(candor.Invalid, "the body could not be read")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, candor.E(candor.Invalid, "the body is empty: the passkey answer (JSON) is expected")
	}
	return body, nil
}

var errPasskeysOff = candor.E(candor.NotFound, "passkeys are not set up on this server (web.origin)")

// needToken refuses a console session where a staff token is needed:
// adding a passkey (a stolen cookie must not add the thief's).
func needToken(who staff.Identity) error {
	if who.Console {
		return candor.E(candor.Unauthenticated, "registering a passkey needs your staff token (Authorization: Bearer TOKEN), not a console session")
	}
	return nil
}

func (h *Handler) passkeyOptions(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := needToken(who); err != nil {
		h.writeError(w, r, err)
		return
	}
	opts, err := h.svc.StaffSessions.RegistrationOptions(r.Context(), who)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func (h *Handler) passkeyAdd(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := needToken(who); err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := readCredential(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	pk, err := h.svc.StaffSessions.Register(r.Context(), who, body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Warn("staff passkey registered", "staff", who.ID)
	writeJSON(w, http.StatusCreated, api.PasskeyAdded{ID: base64.RawURLEncoding.EncodeToString(pk.ID), Created: pk.Created})
}

func (h *Handler) staffSignInOptions(w http.ResponseWriter, r *http.Request) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := h.staffSameOrigin(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	opts, err := h.svc.StaffSessions.SignInOptions(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func toAPIStaffSession(who staff.Identity, expires time.Time, token string) api.StaffSession {
	out := api.StaffSession{ID: who.ID, Name: who.Name, Roles: []string{}, ExpiresAt: expires, CSRF: staff.CSRF(token)}
	for _, r := range who.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out
}

// setStaffCookie sets (maxAge > 0) or clears (maxAge < 0) the console's
// cookie: HttpOnly, SameSite=Strict, Secure over TLS.
func setStaffCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: StaffCookie, Value: token, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func (h *Handler) staffSignIn(w http.ResponseWriter, r *http.Request) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := h.staffSameOrigin(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	body, err := readCredential(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	s, err := h.svc.StaffSessions.SignIn(r.Context(), body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setStaffCookie(w, r, s.Token, int(s.Expires.Sub(s.Started).Seconds()))
	writeJSON(w, http.StatusCreated, toAPIStaffSession(s.Identity, s.Expires, s.Token))
}

func (h *Handler) staffSessionCurrent(w http.ResponseWriter, r *http.Request) {
	token, err := h.staffCookie(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	who, expires, err := h.svc.StaffSessions.Authenticate(r.Context(), token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIStaffSession(who, expires, token))
}

func (h *Handler) staffSignOut(w http.ResponseWriter, r *http.Request) {
	token, err := h.staffCookie(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.StaffSessions.SignOut(r.Context(), token); err != nil {
		h.writeError(w, r, err)
		return
	}
	setStaffCookie(w, r, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) approveOptions(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	id := r.PathValue("id")
	// The request must exist and be one this staff member may approve,
	// before a challenge is spent on it.
	if _, _, err := h.svc.Access.Status(r.Context(), id); err != nil {
		h.writeError(w, r, err)
		return
	}
	if !who.Has(staff.Approver) {
		h.writeError(w, r, candor.E(candor.Forbidden, "only approvers may approve access requests"))
		return
	}
	opts, err := h.svc.StaffSessions.ApprovalOptions(r.Context(), who, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}
