package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
)

// Browser sessions travel in a cookie (api.SessionCookie): HttpOnly, so
// that no script of the page, nor one injected into it, can read the
// token; SameSite=Strict, so that no other site's page makes the browser
// send it; Secure when the request came over TLS (directly, or through a
// proxy that says so in X-Forwarded-Proto). The cookie carries only a
// browser's token (cbt_) and a Bearer header never does: a phone's token
// cannot be planted in a cookie, nor a browser's replayed as a phone's.
//
// A cookie is sent by the browser on its own, so every request it
// authenticates is checked against cross-site request forgery, beyond
// SameSite (which older browsers lack, and which a sibling subdomain
// passes):
//   - an Origin header, when present, must be the request's own origin,
//     and a Sec-Fetch-Site header, when present, must say same-origin (or
//     none, a request the person made themselves);
//   - every method other than GET and HEAD must carry api.CSRFHeader with
//     the session's CSRF value, which the page reads from the sign-in's
//     answer or GET /v1/sessions/current. Another site's page can neither
//     read that answer nor set the header on a cross-origin request
//     without the server's CORS consent, which it never gives.
//
// The CSRF value is derived from the token (csrfFor), not stored: it
// lives and dies with the session, and checking it costs a hash.

// csrfFor is the CSRF value of a cookie session's token: base64url (no
// padding) of the first 16 bytes of SHA-256("candor-csrf\n" + token). It
// is the same rule for every cookie session of the server.
func csrfFor(token string) string {
	h := sha256.Sum256([]byte("candor-csrf\n" + token))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

var (
	errCSRF        = candor.E(candor.Forbidden, "this change needs the page's CSRF token (X-Candor-CSRF)")
	errCrossOrigin = candor.E(candor.Forbidden, "this request comes from another site's page: it is refused")
)

// checkCSRF checks a cookie request's CSRF header against token's value,
// in constant time; GET and HEAD need none.
func checkCSRF(r *http.Request, token string) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	got := r.Header.Get(api.CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(csrfFor(token))) != 1 {
		return errCSRF
	}
	return nil
}

// sameOrigin refuses a cookie request sent by another origin's page: an
// Origin header (any method; "null" included) that is neither the
// request's own scheme and host nor the configured web origin (web.origin,
// when set: the pages' address behind a proxy), or a Sec-Fetch-Site header
// other than same-origin or none. A request with neither header (not from
// a browser, or an older one on a GET) passes: SameSite=Strict kept its
// cookie from other sites. Every cookie of the server, a person's or a
// staff member's, is checked by it.
func sameOrigin(r *http.Request, configured string) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errCrossOrigin
	}
	origin := r.Header.Get("Origin")
	if origin == "" || (configured != "" && strings.EqualFold(origin, configured)) {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errCrossOrigin
	}
	// The server speaks plain HTTP behind a TLS proxy, so an https page
	// of its own host is its own; over TLS, an http page is not.
	switch u.Scheme {
	case "https":
	case "http":
		if r.TLS != nil {
			return errCrossOrigin
		}
	default:
		return errCrossOrigin
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return errCrossOrigin
	}
	return nil
}

// secure tells whether the request reached the server over TLS, directly
// or through a proxy (X-Forwarded-Proto: https); the session cookie is
// then Secure. (A forged header only makes the cookie stricter.)
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setCookie hands a browser a session token for lifetime in the cookie
// name: host-only, HttpOnly, SameSite=Strict, Secure over TLS.
func setCookie(w http.ResponseWriter, r *http.Request, name, token string, lifetime time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", MaxAge: max(1, int(lifetime/time.Second)),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

// clearCookie tells the browser to forget the cookie name (Max-Age=0).
func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure(r)})
}

// setSessionCookie hands a person's browser its session token.
func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, lifetime time.Duration) {
	setCookie(w, r, api.SessionCookie, token, lifetime)
}

// clearSessionCookie tells a person's browser to forget its session.
func clearSessionCookie(w http.ResponseWriter, r *http.Request) { clearCookie(w, r, api.SessionCookie) }

// sessionCookie returns the token of the cookie name, once the request
// passes sameOrigin: errMissing when there is none, errTwoCookies when
// there are two (ours is host-only; another is a sibling domain's, tossed
// to make the page act in a session of the attacker's choosing). The
// caller checks the token, then checkCSRF.
func (h *Handler) sessionCookie(r *http.Request, name string, errMissing error) (string, error) {
	cookies := r.CookiesNamed(name)
	if len(cookies) == 0 || cookies[0].Value == "" {
		return "", errMissing
	}
	if len(cookies) > 1 {
		return "", errTwoCookies
	}
	if err := sameOrigin(r, h.webOrigin()); err != nil {
		return "", err
	}
	return cookies[0].Value, nil
}

// webOrigin is the configured origin of the pages, if any.
func (h *Handler) webOrigin() string {
	if h.svc.StaffSessions == nil {
		return ""
	}
	return h.svc.StaffSessions.Origin()
}

// credential is how a device request authenticated: its token, and
// whether it came in the session cookie (a browser's).
type credential struct {
	token   string
	browser bool
}

type credentialKey struct{}

func withCredential(ctx context.Context, c credential) context.Context {
	return context.WithValue(ctx, credentialKey{}, c)
}

// credentialOf is the credential the device middleware authenticated.
func credentialOf(r *http.Request) credential {
	c, _ := r.Context().Value(credentialKey{}).(credential)
	return c
}

var errTwoCookies = candor.E(candor.Unauthenticated, "the request carries two cookies of one name: another site set one; clear this site's cookies and sign in again")

var errNoSession = candor.E(candor.Unauthenticated, "this needs a session token: Authorization: Bearer TOKEN, or a browser's session cookie")

// authenticate returns the principal and credential of a device request:
// the Bearer token if there is an Authorization header (a phone's, never a
// browser's), else the session cookie (a browser's only), checked against
// cross-site forgery (sameOrigin, then checkCSRF once the session is
// known valid, so that a page whose session ended learns it must sign in
// again).
func (h *Handler) authenticate(r *http.Request) (candor.Principal, credential, error) {
	ctx := r.Context()
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			return candor.Principal{}, credential{}, errNoSession
		}
		p, err := h.svc.Accounts.Authenticate(ctx, token)
		return p, credential{token: token}, err
	}
	token, err := h.sessionCookie(r, api.SessionCookie, errNoSession)
	if err != nil {
		return candor.Principal{}, credential{}, err
	}
	p, err := h.svc.Accounts.AuthenticateBrowser(ctx, token)
	if err != nil {
		return candor.Principal{}, credential{}, err
	}
	if err := checkCSRF(r, token); err != nil {
		return candor.Principal{}, credential{}, err
	}
	return p, credential{token: token, browser: true}, nil
}

// browserLogin opens a browser's session (POST /v1/sessions with
// browser): the token goes in the cookie, the CSRF value in the body.
// The request must come from the server's own pages, if from a page.
func (h *Handler) browserLogin(w http.ResponseWriter, r *http.Request, req api.LoginRequest) {
	if err := sameOrigin(r, h.webOrigin()); err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(req.Device.Pseudonym) != 0 {
		h.writeError(w, r, candor.E(candor.Invalid, "a browser's sign-in names no device: leave device out"))
		return
	}
	g, err := h.svc.Accounts.LoginBrowser(r.Context(), req.Handle, req.AuthKey)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setSessionCookie(w, r, g.Token, g.Expires.Sub(g.Issued))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, currentSession(g, g.Token))
}

// currentSession describes g; token is the session's, for its CSRF value
// when g is a browser's.
func currentSession(g account.Grant, token string) api.CurrentSession {
	out := api.CurrentSession{Account: string(g.Principal.Account), Device: string(g.Principal.Device),
		Region: string(g.Principal.Region), Kind: api.KindPhone, ExpiresAt: g.Expires}
	if g.Browser {
		out.Kind, out.CSRF = api.KindBrowser, csrfFor(token)
	}
	return out
}

// session answers GET /v1/sessions/current: who is signed in, until when,
// and for a browser the CSRF value its page needs (a page that reloads
// reads it here).
func (h *Handler) session(w http.ResponseWriter, r *http.Request, p candor.Principal) {
	cred := credentialOf(r)
	g, err := h.svc.Accounts.Session(r.Context(), cred.token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, currentSession(g, cred.token))
}
