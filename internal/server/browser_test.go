package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/login"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// browser is a web browser on the privacy center: a cookie jar, and what
// its page holds (the CSRF value from the sign-in). It sets the headers a
// browser sets (Origin on a fetch that changes something, Sec-Fetch-Site)
// as the page's own, unless a test forges them.
type browser struct {
	t       *testing.T
	url     string
	http    *http.Client
	csrf    string
	session api.CurrentSession
	login   *http.Response // the sign-in's answer
}

func newBrowser(t *testing.T, env *servertest.Env) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, url: env.URL, http: &http.Client{Jar: jar}}
}

// do sends a request as the page would: JSON, the CSRF header when the
// page has one and the method changes something, Origin and
// Sec-Fetch-Site of the page's own origin. edit may change the request
// before it is sent (an attacker's page, a stolen token).
func (b *browser) do(method, path string, v any, edit func(*http.Request)) answer {
	b.t.Helper()
	var body io.Reader
	if v != nil {
		j, _ := json.Marshal(v)
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if v != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method != "GET" && method != "HEAD" {
		req.Header.Set("Origin", b.url)
		if b.csrf != "" {
			req.Header.Set(api.CSRFHeader, b.csrf)
		}
	}
	if edit != nil {
		edit(req)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if path == "/v1/sessions" {
		b.login = resp
	}
	return answer{resp.StatusCode, out}
}

func (b *browser) must(method, path string, v, out any) {
	b.t.Helper()
	a := b.do(method, path, v, nil)
	if a.status/100 != 2 {
		b.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			b.t.Fatal(err)
		}
	}
}

// authKey derives the auth key from an email and password as the page
// does (the same code, package client/login): blind, evaluate, finish,
// salt, Argon2id. The password never leaves this function.
func (b *browser) authKey(email, password string) (handle, key []byte) {
	b.t.Helper()
	bl, blinded, err := login.Blind(email)
	if err != nil {
		b.t.Fatal(err)
	}
	var ev api.HandleResponse
	b.must("POST", "/v1/auth/handle", api.HandleRequest{Blinded: blinded}, &ev)
	handle, err = bl.Finish(ev.Evaluated)
	if err != nil {
		b.t.Fatal(err)
	}
	var salt api.SaltResponse
	b.must("POST", "/v1/auth/salt", api.SaltRequest{Handle: handle}, &salt)
	keys, err := login.DeriveKeys(password, salt.Salt, login.Cost{Time: salt.KDF.Time, MemoryKiB: salt.KDF.MemoryKiB, Threads: salt.KDF.Threads})
	if err != nil {
		b.t.Fatal(err)
	}
	return handle, keys.AuthKey
}

// signIn signs the browser in with email and password and keeps the CSRF
// value, as the page does.
func (b *browser) signIn(email, password string) answer {
	b.t.Helper()
	handle, key := b.authKey(email, password)
	a := b.do("POST", "/v1/sessions", map[string]any{"handle": handle, "auth_key": key, "browser": true}, nil)
	if a.status == http.StatusCreated {
		if err := json.Unmarshal(a.body, &b.session); err != nil {
			b.t.Fatal(err)
		}
		b.csrf = b.session.CSRF
	}
	return a
}

// token is the session token in the browser's cookie jar (what an
// attacker who stole it would hold).
func (b *browser) token() string {
	u, _ := url.Parse(b.url)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == api.SessionCookie {
			return c.Value
		}
	}
	return ""
}

func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", api.SessionCookie, resp.Header["Set-Cookie"])
	return nil
}

// csrfRule is the contract's CSRF value of a session token, computed here
// independently of the server's code.
func csrfRule(token string) string {
	h := sha256.Sum256([]byte("candor-csrf\n" + token))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// A browser signs in as the page does — the auth key derived from the
// password on the client — and gets its token only in an HttpOnly,
// SameSite=Strict cookie, a CSRF value in the body, and a device of kind
// browser; the phone's session and the browser's describe themselves.
func TestBrowserSignIn(t *testing.T) {
	env := servertest.Start(t)
	phone := signedUp(t, env, canaryIMEI)

	b := newBrowser(t, env)
	a := b.signIn(canaryEmail, canaryPassword)
	if a.status != http.StatusCreated {
		t.Fatalf("browser sign-in: %d %s", a.status, a.body)
	}
	var fields map[string]any
	json.Unmarshal(a.body, &fields)
	if _, ok := fields["token"]; ok {
		t.Fatalf("the sign-in's body holds the token: %s", a.body)
	}
	if bytes.Contains(a.body, []byte("cbt_")) {
		t.Fatalf("the sign-in's body holds a token: %s", a.body)
	}
	s := b.session
	if s.Kind != "browser" || s.Account == "" || s.Device == "" || s.Region != "in" || s.CSRF == "" {
		t.Fatalf("sign-in answer %+v", s)
	}
	if d := time.Until(s.ExpiresAt); d < 12*time.Hour-time.Minute || d > 12*time.Hour+time.Minute {
		t.Fatalf("expires in %v, want 12h", d)
	}
	c := sessionCookieOf(t, b.login)
	if !strings.HasPrefix(c.Value, "cbt_") || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 12*3600 || c.Secure {
		t.Fatalf("cookie %+v (%q), want cbt_…; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict, not Secure over plain HTTP",
			c, b.login.Header.Get("Set-Cookie"))
	}
	if s.CSRF != csrfRule(c.Value) {
		t.Fatalf("csrf %q is not the contract's derivation of the token", s.CSRF)
	}
	if cc := b.login.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("sign-in Cache-Control %q", cc)
	}

	// Behind a TLS proxy the cookie is Secure.
	tls := newBrowser(t, env)
	handle, key := tls.authKey(canaryEmail, canaryPassword)
	tls.do("POST", "/v1/sessions", map[string]any{"handle": handle, "auth_key": key, "browser": true}, func(r *http.Request) {
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("Origin", "https://"+env.Addr)
	})
	if c := sessionCookieOf(t, tls.login); !c.Secure {
		t.Fatalf("cookie over TLS: %q, want Secure", tls.login.Header.Get("Set-Cookie"))
	}

	// The cookie authenticates; the session describes itself.
	var cur api.CurrentSession
	b.must("GET", "/v1/sessions/current", nil, &cur)
	if cur != s {
		t.Fatalf("current session %+v, want %+v", cur, s)
	}
	var devs struct{ Devices []api.Device }
	b.must("GET", "/v1/devices", nil, &devs)
	kinds := map[string]int{}
	for _, d := range devs.Devices {
		kinds[d.Kind]++
		if d.Current != (d.ID == s.Device) {
			t.Errorf("device %+v: current is wrong", d)
		}
		if d.ID == s.Device && d.Kind != "browser" {
			t.Errorf("the browser's device %+v is not of kind browser", d)
		}
	}
	if kinds[""] != 1 || kinds["browser"] != 2 {
		t.Fatalf("devices %+v: want one phone and two browsers", devs.Devices)
	}

	// The phone's session says it is a phone's, without a CSRF value.
	pr := &raw{t: t, url: env.URL, token: phoneToken(t, phone)}
	var pcur api.CurrentSession
	pr.must("GET", "/v1/sessions/current", nil, &pcur)
	if pcur.Kind != "phone" || pcur.CSRF != "" || pcur.Account != s.Account {
		t.Fatalf("phone's current session %+v", pcur)
	}

	// The sign-in is in the owner's access log as a login.
	var log api.AccessLog
	b.must("GET", "/v1/account/access-log", nil, &log)
	logins := 0
	for _, e := range log.Entries {
		if strings.Contains(e.Event, `"action":"device.login"`) {
			logins++
		}
	}
	if logins < 3 {
		t.Fatalf("%d logins in the access log, want the phone's and both browsers'", logins)
	}

	// A wrong password is the login's answer, and no cookie.
	w := newBrowser(t, env)
	if a := w.signIn(canaryEmail, "not the password"); a.status != 401 || w.token() != "" {
		t.Fatalf("wrong password: %d %s, cookie %q", a.status, a.body, w.token())
	}
	// A browser's sign-in names no device.
	if a := w.do("POST", "/v1/sessions", map[string]any{"handle": randomBytes(64), "auth_key": randomBytes(32), "browser": true,
		"device": map[string]any{"pseudonym": randomBytes(32)}}, nil); a.status != 400 {
		t.Fatalf("browser sign-in with a device: %d %s", a.status, a.body)
	}
	// Another site's page cannot sign a browser in (login CSRF).
	handle, key = w.authKey(canaryEmail, canaryPassword)
	if a := w.do("POST", "/v1/sessions", map[string]any{"handle": handle, "auth_key": key, "browser": true}, func(r *http.Request) {
		r.Header.Set("Origin", "https://evil.example")
	}); a.status != 403 || w.token() != "" {
		t.Fatalf("sign-in from another origin: %d %s", a.status, a.body)
	}
}

// phoneToken reads a phone's session token from its client state.
func phoneToken(t *testing.T, c interface{ Dir() string }) string {
	t.Helper()
	var found string
	filepath.Walk(c.Dir(), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || found != "" {
			return nil
		}
		b, _ := os.ReadFile(path)
		if i := bytes.Index(b, []byte("cdt_")); i >= 0 && i+47 <= len(b) {
			found = string(b[i : i+47])
		}
		return nil
	})
	if found == "" {
		t.Fatal("no session token in the phone's folder")
	}
	return found
}

// Cross-site request forgery: a request with the cookie that changes
// something needs the page's CSRF value, and a page of another origin is
// refused whatever it sends; each refusal is 403 and changes nothing.
func TestBrowserCSRF(t *testing.T) {
	env := servertest.Start(t)
	signedUp(t, env, canaryIMEI)
	b := newBrowser(t, env)
	if a := b.signIn(canaryEmail, canaryPassword); a.status != 201 {
		t.Fatalf("sign-in: %d %s", a.status, a.body)
	}
	notesOn := func() bool {
		var cs api.Consents
		b.must("GET", "/v1/consents", nil, &cs)
		for _, c := range cs.Consents {
			if c.Category == "notes" {
				return c.On
			}
		}
		return false
	}
	on := api.ConsentRequest{On: true, PolicyVersion: candor.PolicyVersion}
	attacks := []struct {
		name string
		edit func(*http.Request)
	}{
		{"no CSRF header", func(r *http.Request) { r.Header.Del(api.CSRFHeader) }},
		{"an empty CSRF header", func(r *http.Request) { r.Header.Set(api.CSRFHeader, "") }},
		{"a wrong CSRF value", func(r *http.Request) { r.Header.Set(api.CSRFHeader, csrfRule("cbt_someone-else")) }},
		{"the token itself as CSRF", func(r *http.Request) { r.Header.Set(api.CSRFHeader, b.token()) }},
		{"another site's Origin", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }},
		{"an Origin of another port", func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:1") }},
		{"an opaque Origin", func(r *http.Request) { r.Header.Set("Origin", "null") }},
		{"a cross-site fetch", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }},
		{"a sibling site's fetch", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }},
	}
	for _, at := range attacks {
		a := b.do("PUT", "/v1/consents/notes", on, at.edit)
		if a.status != 403 || a.error().Code != "forbidden" {
			t.Errorf("%s: %d %s, want 403 forbidden", at.name, a.status, a.body)
		}
		if notesOn() {
			t.Fatalf("%s: the consent changed", at.name)
		}
	}
	if a := b.do("PUT", "/v1/consents/notes", on, func(r *http.Request) { r.Header.Del(api.CSRFHeader) }); a.error().Message != "this change needs the page's CSRF token (X-Candor-CSRF)" {
		t.Errorf("message %q", a.error().Message)
	}
	// Reading is refused to another origin too (its page could not read
	// the answer, but it is refused before any work).
	if a := b.do("GET", "/v1/account/summary", nil, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }); a.status != 403 {
		t.Errorf("GET from another origin: %d %s", a.status, a.body)
	}
	// Revoking a device and signing out are changes too.
	if a := b.do("DELETE", "/v1/sessions/current", nil, func(r *http.Request) { r.Header.Del(api.CSRFHeader) }); a.status != 403 {
		t.Errorf("sign-out without CSRF: %d %s", a.status, a.body)
	}
	if a := b.do("DELETE", "/v1/devices/"+b.session.Device, nil, func(r *http.Request) { r.Header.Del(api.CSRFHeader) }); a.status != 403 {
		t.Errorf("revocation without CSRF: %d %s", a.status, a.body)
	}
	// The page's own request, with its CSRF value, works: GET needs none.
	b.must("GET", "/v1/sessions/current", nil, nil)
	b.must("PUT", "/v1/consents/notes", on, nil)
	if !notesOn() {
		t.Fatal("the page's own change did not apply")
	}
	// A page served over TLS by a proxy is the server's own origin.
	if a := b.do("PUT", "/v1/consents/notes", on, func(r *http.Request) { r.Header.Set("Origin", "https://"+env.Addr) }); a.status != 200 {
		t.Errorf("https origin of the server's host: %d %s", a.status, a.body)
	}
}

// A browser's token works only in the cookie, a phone's only as Bearer;
// a browser cannot make app passwords.
func TestBrowserTokenChannels(t *testing.T) {
	env := servertest.Start(t)
	phone := signedUp(t, env, canaryIMEI)
	b := newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	stolen := b.token()
	if !strings.HasPrefix(stolen, "cbt_") {
		t.Fatalf("cookie %q", stolen)
	}

	// A browser's token as Bearer (stolen from the cookie, replayed by a
	// program): refused.
	r := &raw{t: t, url: env.URL, token: stolen}
	if a := r.call("GET", "/v1/account", nil, nil); a.status != 401 {
		t.Fatalf("browser token as Bearer: %d %s", a.status, a.body)
	}
	// A phone's token planted in the cookie: refused.
	ptoken := phoneToken(t, phone)
	planted := newBrowser(t, env)
	if a := planted.do("GET", "/v1/account", nil, func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: ptoken})
	}); a.status != 401 {
		t.Fatalf("phone token in the cookie: %d %s", a.status, a.body)
	}
	// Garbage in the cookie: 401, not 500.
	for _, v := range []string{"cbt_", "cbt_" + strings.Repeat("A", 43), strings.Repeat("x", 4000)} {
		if a := planted.do("GET", "/v1/account", nil, func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: v})
		}); a.status != 401 {
			t.Fatalf("cookie %.10q…: %d %s", v, a.status, a.body)
		}
	}
	// A second session cookie, tossed by a sibling domain: refused, in
	// whichever order the browser sends them.
	for _, pair := range [][2]string{{stolen, "cbt_" + strings.Repeat("A", 43)}, {"cbt_" + strings.Repeat("A", 43), stolen}} {
		if a := newBrowser(t, env).do("GET", "/v1/account", nil, func(r *http.Request) {
			r.Header.Set("Cookie", api.SessionCookie+"="+pair[0]+"; "+api.SessionCookie+"="+pair[1])
		}); a.status != 401 {
			t.Fatalf("two session cookies: %d %s", a.status, a.body)
		}
	}
	// Answers to cookie requests are not cached.
	req, _ := http.NewRequest("GET", env.URL+"/v1/account/summary", nil)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || cc != "no-store" {
		t.Fatalf("summary with the cookie: %d, Cache-Control %q", resp.StatusCode, cc)
	}
	// With an Authorization header the cookie is not looked at: a bad
	// Bearer with a good cookie is refused.
	if a := b.do("GET", "/v1/account", nil, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nonsense") }); a.status != 401 {
		t.Fatalf("bad Bearer with a good cookie: %d %s", a.status, a.body)
	}
	// App passwords are made on a phone only.
	if a := b.do("POST", "/v1/app-passwords", api.AppPasswordRequest{Name: "Thunderbird"}, nil); a.status != 403 {
		t.Fatalf("app password from a browser: %d %s", a.status, a.body)
	}
	var devs struct{ Devices []api.Device }
	b.must("GET", "/v1/devices", nil, &devs)
	for _, d := range devs.Devices {
		if d.Kind == "app" {
			t.Fatal("the refused app password was made")
		}
	}
}

// A browser's session ends 12 hours after its sign-in (by the service's
// clock), when it signs out (the cookie is cleared and the token dies on
// the server), and when another device revokes it.
func TestBrowserSessionEnds(t *testing.T) {
	var offset atomic.Int64
	cfg := server.Config{}
	cfg.Account = servertest.FastAccounts
	cfg.Account.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	env := servertest.StartWith(t, cfg)
	phone := signedUp(t, env, canaryIMEI)
	pr := &raw{t: t, url: env.URL, token: phoneToken(t, phone)}

	// Expiry: fine at 11h59, gone at 12h.
	b := newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	offset.Store(int64(12*time.Hour - time.Minute))
	b.must("GET", "/v1/account/summary", nil, nil)
	offset.Store(int64(12 * time.Hour))
	if a := b.do("GET", "/v1/account/summary", nil, nil); a.status != 401 || !strings.Contains(a.error().Message, "expired") {
		t.Fatalf("after 12 h: %d %s", a.status, a.body)
	}
	pr.must("GET", "/v1/account", nil, nil) // the phone's 30 days go on
	expired := b.session.Device
	if !listed(pr, expired) {
		t.Fatal("the expired browser left the list before another sign-in")
	}
	// The next sign-in forgets the expired browser's device.
	next := newBrowser(t, env)
	next.signIn(canaryEmail, canaryPassword)
	if listed(pr, expired) || !listed(pr, next.session.Device) {
		t.Fatal("the sign-in after expiry did not forget the expired browser")
	}
	offset.Store(0)

	// Sign-out: 204, the cookie cleared, and the token dead on the server.
	b = newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	token := b.token()
	a := b.do("DELETE", "/v1/sessions/current", nil, nil)
	if a.status != 204 {
		t.Fatalf("sign-out: %d %s", a.status, a.body)
	}
	if b.token() != "" {
		t.Fatal("the cookie is still in the jar after sign-out")
	}
	if listed(pr, b.session.Device) {
		t.Fatal("the signed-out browser is still listed")
	}
	replay := newBrowser(t, env)
	if a := replay.do("GET", "/v1/sessions/current", nil, func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: token})
	}); a.status != 401 {
		t.Fatalf("a signed-out token replayed: %d %s", a.status, a.body)
	}

	// Revocation from the phone: the browser's next request is 401.
	b = newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	b.must("GET", "/v1/account/summary", nil, nil)
	pr.must("DELETE", "/v1/devices/"+b.session.Device, nil, nil)
	if a := b.do("GET", "/v1/account/summary", nil, nil); a.status != 401 {
		t.Fatalf("revoked browser: %d %s", a.status, a.body)
	}
	if listed(pr, b.session.Device) {
		t.Fatal("the revoked browser is still listed")
	}
	// A browser ends another browser's session, and its own.
	b1, b2 := newBrowser(t, env), newBrowser(t, env)
	b1.signIn(canaryEmail, canaryPassword)
	b2.signIn(canaryEmail, canaryPassword)
	b1.must("DELETE", "/v1/devices/"+b2.session.Device, nil, nil)
	if a := b2.do("GET", "/v1/devices", nil, nil); a.status != 401 {
		t.Fatalf("browser revoked by another: %d %s", a.status, a.body)
	}
	b1.must("DELETE", "/v1/devices/"+b1.session.Device, nil, nil)
	if b1.token() != "" {
		t.Fatal("revoking itself left the browser's cookie")
	}
	pr.must("GET", "/v1/account", nil, nil)
}

// listed tells whether the account of r lists device.
func listed(r *raw, device string) bool {
	var devs struct{ Devices []api.Device }
	r.must("GET", "/v1/devices", nil, &devs)
	for _, d := range devs.Devices {
		if d.ID == device {
			return true
		}
	}
	return false
}

// Deleting the account from a browser needs the password again; a wrong
// one is refused like a wrong login, and counts as one.
func TestBrowserDeleteAccount(t *testing.T) {
	cfg := server.Config{}
	cfg.Account = servertest.FastAccounts
	cfg.Account.MaxFailures = 3
	env := servertest.StartWith(t, cfg)
	phone := signedUp(t, env, canaryIMEI)
	pr := &raw{t: t, url: env.URL, token: phoneToken(t, phone)}
	b := newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)

	if a := b.do("DELETE", "/v1/account", nil, nil); a.status != 400 {
		t.Fatalf("delete without the password: %d %s", a.status, a.body)
	}
	if a := b.do("DELETE", "/v1/account", api.DeleteAccountRequest{AuthKey: randomBytes(5)}, nil); a.status != 400 {
		t.Fatalf("delete with a short key: %d %s", a.status, a.body)
	}
	_, wrong := b.authKey(canaryEmail, "Orchid-Lantern-7732!")
	a := b.do("DELETE", "/v1/account", api.DeleteAccountRequest{AuthKey: wrong}, nil)
	if a.status != 401 || a.error().Message != "wrong password" {
		t.Fatalf("delete with a wrong password: %d %s", a.status, a.body)
	}
	pr.must("GET", "/v1/account", nil, nil)
	b.must("GET", "/v1/account", nil, nil) // the browser stays signed in
	// The refusal is in the owner's log.
	var log api.AccessLog
	pr.must("GET", "/v1/account/access-log", nil, &log)
	refused := false
	for _, e := range log.Entries {
		refused = refused || strings.Contains(e.Event, "account.delete") && strings.Contains(e.Event, "unauthenticated")
	}
	if !refused {
		t.Errorf("the refused deletion is not in the access log")
	}
	// Wrong keys count as failed logins: at MaxFailures the handle is
	// locked, for deleting and for signing in, even with the right key.
	for range 2 {
		b.do("DELETE", "/v1/account", api.DeleteAccountRequest{AuthKey: wrong}, nil)
	}
	if a := newBrowser(t, env).signIn(canaryEmail, canaryPassword); a.status != 429 {
		t.Fatalf("sign-in after 3 wrong deletions: %d %s, want 429", a.status, a.body)
	}
	_, right := b.authKey(canaryEmail, canaryPassword)
	if a := b.do("DELETE", "/v1/account", api.DeleteAccountRequest{AuthKey: right}, nil); a.status != 429 {
		t.Fatalf("delete while locked out: %d %s, want 429", a.status, a.body)
	}
	pr.must("GET", "/v1/account", nil, nil)
}

// With the right password the account goes, and the browser's cookie with it.
func TestBrowserDeleteAccountConfirmed(t *testing.T) {
	env := servertest.Start(t)
	phone := signedUp(t, env, canaryIMEI)
	pr := &raw{t: t, url: env.URL, token: phoneToken(t, phone)}
	b := newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	_, key := b.authKey(canaryEmail, canaryPassword)
	a := b.do("DELETE", "/v1/account", api.DeleteAccountRequest{AuthKey: key}, nil)
	if a.status != 204 {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if b.token() != "" {
		t.Fatal("the cookie survived the account")
	}
	if a := pr.call("GET", "/v1/account", nil, nil); a.status != 401 {
		t.Fatalf("the phone after deletion: %d %s", a.status, a.body)
	}
	if a := newBrowser(t, env).signIn(canaryEmail, canaryPassword); a.status != 401 {
		t.Fatalf("sign-in after deletion: %d %s", a.status, a.body)
	}
	// A phone deletes without a body, as before.
	r, _ := signup(t, env, "IN")
	r.must("DELETE", "/v1/account", nil, nil)
}

// The summary counts what a phone synced — live records, bytes, the last
// change; photos from the photo store — with its consent and the region's
// retention rules, and reads no record to do it: the owner's access log,
// where every read of data is, does not grow.
func TestAccountSummary(t *testing.T) { accountSummary(t, servertest.Start(t)) }

// The same, with the directory and the regions in PostgreSQL.
func TestAccountSummaryPostgres(t *testing.T) {
	accountSummary(t, servertest.StartWith(t, server.Config{Postgres: servertest.Postgres(t)}))
}

func accountSummary(t *testing.T, env *servertest.Env) {
	ctx := context.Background()
	phone := newPhone(t, env, canaryIMEI)
	for _, n := range []string{"Ada", "Grace", "Linus"} {
		if _, err := phone.Contacts().Add(n, "+919800000000"); err != nil {
			t.Fatal(err)
		}
	}
	src := t.TempDir()
	writePhotos(t, src, 300_000, 100_000)
	if _, err := phone.Photos().Import(src); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	for _, c := range []candor.Category{candor.Contacts, candor.Photos} {
		if _, err := phone.SetConsent(ctx, c, true); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now().Add(-time.Second)
	mustSync(t, phone)

	b := newBrowser(t, env)
	b.signIn(canaryEmail, canaryPassword)
	var log api.AccessLog
	b.must("GET", "/v1/account/access-log", nil, &log)
	size := log.Checkpoint.Size

	var sum api.AccountSummary
	b.must("GET", "/v1/account/summary", nil, &sum)
	if sum.Account != b.session.Account || sum.Region != "in" || sum.Created.IsZero() {
		t.Fatalf("summary %+v", sum)
	}
	var want []string
	for _, c := range candor.Categories() {
		want = append(want, string(c))
	}
	var got []string
	by := map[string]api.CategorySummary{}
	for _, c := range sum.Categories {
		got = append(got, c.Category)
		by[c.Category] = c
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("categories %v, want %v", got, want)
	}
	contacts, photos, notes := by["contacts"], by["photos"], by["notes"]
	if !contacts.On || contacts.Since == nil || contacts.Records != 3 || contacts.Bytes <= 0 || contacts.LastChange == nil || contacts.LastChange.Before(before) {
		t.Fatalf("contacts %+v", contacts)
	}
	if !photos.On || photos.Records != 2 || photos.Bytes < 400_000 || photos.LastChange == nil {
		t.Fatalf("photos %+v, want 2 photos of at least 400000 bytes", photos)
	}
	if notes.On || notes.Since != nil || notes.Records != 0 || notes.Bytes != 0 || notes.LastChange != nil {
		t.Fatalf("notes %+v", notes)
	}
	var ret api.Retention
	b.must("GET", "/v1/account/retention", nil, &ret)
	rj, _ := json.Marshal(ret)
	sj, _ := json.Marshal(sum.Retention)
	if !bytes.Equal(rj, sj) {
		t.Fatalf("summary retention %s, want %s", sj, rj)
	}
	b.must("GET", "/v1/account/access-log", nil, &log)
	if log.Checkpoint.Size != size {
		t.Fatalf("the summary added %d entries to the access log: it read records", log.Checkpoint.Size-size)
	}

	// A deletion: one record fewer, fewer bytes, a later last change.
	list, err := phone.Contacts().List()
	if err != nil {
		t.Fatal(err)
	}
	if err := phone.Contacts().Delete(list[0].ID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, phone)
	var after api.AccountSummary
	b.must("GET", "/v1/account/summary", nil, &after)
	c2 := after.Categories[0]
	if c2.Records != 2 || c2.Bytes >= contacts.Bytes || c2.LastChange.Before(*contacts.LastChange) {
		t.Fatalf("contacts after a deletion %+v (before %+v)", c2, contacts)
	}
	// Consent off: the cloud copy goes, and the summary says so.
	if _, err := phone.SetConsent(ctx, candor.Contacts, false); err != nil {
		t.Fatal(err)
	}
	b.must("GET", "/v1/account/summary", nil, &after)
	if c := after.Categories[0]; c.On || c.Records != 0 || c.Bytes != 0 || c.Since == nil {
		t.Fatalf("contacts after consent off %+v", c)
	}
}

// The owner's staff-access setting reads back as it was set, from a
// browser (so the page can say which is in force) as from a phone.
func TestStaffAccessSettingReads(t *testing.T) {
	env := servertest.Start(t)
	signedUp(t, env, canaryIMEI)
	b := newBrowser(t, env)
	if a := b.signIn(canaryEmail, canaryPassword); a.status != http.StatusCreated {
		t.Fatalf("browser sign-in: %d %s", a.status, a.body)
	}
	for _, want := range []bool{false, true, false} {
		b.must("PUT", "/v1/account/staff-access", api.StaffAccessSetting{OwnerApproval: want}, nil)
		var got api.StaffAccessSetting
		b.must("GET", "/v1/account/staff-access", nil, &got)
		if got.OwnerApproval != want {
			t.Fatalf("GET /v1/account/staff-access = %v after setting %v", got.OwnerApproval, want)
		}
	}
}

// The device list says which devices hold a live session: a phone the
// owner revoked stays listed (its id is kept for its next sign-in), signed
// out.
func TestDevicesSaySignedIn(t *testing.T) {
	env := servertest.Start(t)
	phone := signedUp(t, env, canaryIMEI)
	b := newBrowser(t, env)
	if a := b.signIn(canaryEmail, canaryPassword); a.status != http.StatusCreated {
		t.Fatalf("browser sign-in: %d %s", a.status, a.body)
	}
	list := func() map[string]api.Device {
		var out struct{ Devices []api.Device }
		b.must("GET", "/v1/devices", nil, &out)
		m := map[string]api.Device{}
		for _, d := range out.Devices {
			m[d.Kind] = d
		}
		return m
	}
	devs := list()
	if !devs[""].SignedIn || !devs["browser"].SignedIn || len(devs) != 2 {
		t.Fatalf("devices before the revocation: %+v", devs)
	}
	b.must("DELETE", "/v1/devices/"+devs[""].ID, nil, nil)
	devs = list()
	if p, ok := devs[""]; !ok || p.SignedIn || !devs["browser"].SignedIn {
		t.Fatalf("devices after the phone was revoked: %+v", devs)
	}
	if _, err := phone.Sync(context.Background(), nil); !candor.Is(err, candor.Unauthenticated) {
		t.Fatalf("the revoked phone's sync: %v, want unauthenticated", err)
	}
}
