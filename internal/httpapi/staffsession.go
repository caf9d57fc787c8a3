package httpapi

import (
	"context"
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

// maxCredentialBytes bounds a passkey answer (a credential or an
// assertion, as the browser encodes it).
const maxCredentialBytes = 64 << 10

var (
	errNoStaff = candor.E(candor.Unauthenticated,
		"this needs a staff token (Authorization: Bearer TOKEN, CANDOR_STAFF_TOKEN) or a staff console sign-in")
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
// the Origin and CSRF rules of every cookie of the server hold
// (sessionCookie, checkCSRF).
func (h *Handler) staffCookie(r *http.Request) (string, error) {
	if h.svc.StaffSessions == nil {
		return "", errNoStaff
	}
	token, err := h.sessionCookie(r, StaffCookie, errNoStaff)
	if err != nil {
		return "", err
	}
	if err := checkCSRF(r, token); err != nil {
		return "", err
	}
	return token, nil
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

// needToken refuses a console session where a staff token is needed
// (what names the act): adding a passkey (a stolen cookie must not add the
// thief's) and adding a staff identity (its token would outlive the
// session and approve without a passkey).
func needToken(who staff.Identity, what string) error {
	if who.Console {
		return candor.Errorf(candor.Unauthenticated, "%s needs your staff token (Authorization: Bearer TOKEN), not a console session", what)
	}
	return nil
}

func (h *Handler) passkeyOptions(w http.ResponseWriter, r *http.Request, who staff.Identity) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := needToken(who, "registering a passkey"); err != nil {
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
	if err := needToken(who, "registering a passkey"); err != nil {
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
	if err := sameOrigin(r, h.webOrigin()); err != nil {
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
	out := api.StaffSession{ID: who.ID, Name: who.Name, Roles: []string{}, ExpiresAt: expires, CSRF: csrfFor(token)}
	for _, r := range who.Roles {
		out.Roles = append(out.Roles, string(r))
	}
	return out
}

func (h *Handler) staffSignIn(w http.ResponseWriter, r *http.Request) {
	if h.svc.StaffSessions == nil {
		h.writeError(w, r, errPasskeysOff)
		return
	}
	if err := sameOrigin(r, h.webOrigin()); err != nil {
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
	setCookie(w, r, StaffCookie, s.Token, s.Expires.Sub(s.Started))
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
	clearCookie(w, r, StaffCookie)
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
