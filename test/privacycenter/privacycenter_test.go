package privacycenter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/login"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

const (
	testEmail    = "Wren.Halloway@Example.Invalid"
	testPassword = "Saffron-Harbour-4820!"
	wrongPass    = "Saffron-Harbour-4821!"
)

var languages = []string{"en", "hi", "zh-Hans"}

// chromium returns the browser to run, or skips the test when there is none
// and CANDOR_TEST_CHROMIUM does not ask for it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CANDOR_TEST_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("CANDOR_TEST_CHROMIUM=%s, but it cannot be run: %v (scripts/ci/chromium.sh installs Chromium)", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium on this machine: install it with scripts/ci/chromium.sh, or set CANDOR_TEST_CHROMIUM to its path (CI does, and then a missing Chromium fails this test)")
	return ""
}

// browser is a headless Chromium with a fresh profile, on one tab, that
// records what the page must never do: a request to another host than
// the server, a console error, an uncaught exception, a CSP violation.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	foreign  []string
	problems []string
}

// cspWatch records the page's CSP violations in window.__csp; it runs
// before the page's own scripts (DevTools injects it, so the CSP does not
// apply to it).
const cspWatch = `window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`

func newBrowser(t *testing.T, base string, flags ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	exe := chromium(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
	)
	opts = append(opts, flags...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, base: base}
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			r, err := url.Parse(e.Request.URL)
			if err != nil || (r.Scheme != "data" && r.Scheme != "blob" && r.Host != u.Host) {
				b.foreign = append(b.foreign, e.Request.URL)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, fmt.Sprint(a.Value)+a.Description)
				}
				b.problems = append(b.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.problems = append(b.problems, "uncaught: "+msg)
		case *log.EventEntryAdded:
			// An API answer of 4xx or 5xx is how the API speaks, and the
			// page shows its message; any other error (a missing asset, a
			// CSP violation) is a fault of the pages.
			if e.Entry.Level == log.EntryLevelError && !(e.Entry.Source == log.EntrySourceNetwork && strings.Contains(e.Entry.URL, "/v1/")) {
				b.problems = append(b.problems, fmt.Sprintf("log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
			}
		}
	}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	b.run(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
		return err
	}))
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, u := range b.foreign {
			t.Errorf("the page made a request to another host than the server: %s", u)
		}
	})
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("in Chromium: %v%s", err, b.report())
	}
}

// report is what the page did wrong so far, for a failure message.
func (b *browser) report() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.problems) == 0 {
		return ""
	}
	return "\npage problems:\n  " + strings.Join(b.problems, "\n  ")
}

// eval evaluates expr in the page (awaiting a promise) into a T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%.200s: %v%s", expr, err, b.report())
	}
	return v
}

// wait polls expr until it is truthy.
func (b *browser) wait(expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(60*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("waiting for %s: %v%s", expr, err, b.report())
	}
}

// open loads path and waits until the page has settled on a view.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.base + path))
	b.wait(`document.getElementById("loading") && document.getElementById("loading").hidden`)
}

// clean fails the test on every console error, exception and CSP
// violation the page had.
func (b *browser) clean() {
	b.t.Helper()
	if v := eval[[]string](b, `window.__csp || []`); len(v) > 0 {
		b.t.Errorf("CSP violations: %v", v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("the page: %s", p)
	}
	b.problems = nil
}

func (b *browser) forget() {
	b.mu.Lock()
	b.problems = nil
	b.mu.Unlock()
	eval[bool](b, `(window.__csp = [], true)`)
}

func js(v any) string {
	out, _ := json.Marshal(v)
	return string(out)
}

// text is an element's text.
func (b *browser) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(eval[string](b, `document.getElementById(`+js(id)+`).textContent`))
}

// type fills an input as a person would.
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	eval[bool](b, `(document.querySelector(`+js(sel)+`).value = "", true)`)
	b.run(chromedp.SendKeys(sel, value))
}

// setLang picks lang in the page's language switcher.
func (b *browser) setLang(lang string) {
	b.t.Helper()
	eval[bool](b, `(() => { const s = document.getElementById("lang"); s.value = `+js(lang)+`; s.dispatchEvent(new Event("change")); return true; })()`)
}

// dict is a language's strings, read from the repository.
func dict(t *testing.T, lang string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "internal", "web", "assets", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// signup makes an account with a phone (the Go SDK), at the cost the
// browser accepts.
func signup(t *testing.T, env *servertest.Env) {
	t.Helper()
	kdf := api.KDF(login.MinimumCost)
	c, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: "490154203237518", Phone: "+919812345678", Country: "IN"}, client.WithKDF(kdf), client.WithKDFFloor(kdf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Signup(t.Context(), testEmail, testPassword); err != nil {
		t.Fatal(err)
	}
}

func post(t *testing.T, env *servertest.Env, path string, body any) (int, []byte) {
	t.Helper()
	raw, _ := json.Marshal(body)
	r, err := http.Post(env.URL+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	out, _ := io.ReadAll(r.Body)
	return r.StatusCode, out
}

// credentials derives what the page sends at sign-in, in Go: the handle
// and the auth key of email and password.
func credentials(t *testing.T, env *servertest.Env, email, password string) (handle, authKey []byte) {
	t.Helper()
	bl, blinded, err := login.Blind(email)
	if err != nil {
		t.Fatal(err)
	}
	var ev api.HandleResponse
	if st, out := post(t, env, "/v1/auth/handle", api.HandleRequest{Blinded: blinded}); st != 200 || json.Unmarshal(out, &ev) != nil {
		t.Fatalf("POST /v1/auth/handle: %d %s", st, out)
	}
	handle, err = bl.Finish(ev.Evaluated)
	if err != nil {
		t.Fatal(err)
	}
	var salt api.SaltResponse
	if st, out := post(t, env, "/v1/auth/salt", api.SaltRequest{Handle: handle}); st != 200 || json.Unmarshal(out, &salt) != nil {
		t.Fatalf("POST /v1/auth/salt: %d %s", st, out)
	}
	keys, err := login.DeriveKeys(password, salt.Salt, login.Cost(salt.KDF))
	if err != nil {
		t.Fatal(err)
	}
	return handle, keys.AuthKey
}

type browserLogin struct {
	Handle  []byte `json:"handle"`
	AuthKey []byte `json:"auth_key"`
	Browser bool   `json:"browser"`
}

// The pages load with no console error and no CSP violation, ask nothing
// of another host, carry their headers, and the browser enforces the CSP:
// a script or style slipped into the page does not run.
func TestPagesLoad(t *testing.T) {
	env := servertest.Start(t)
	b := newBrowser(t, env.URL)
	en := dict(t, "en")
	for _, c := range []struct{ path, title, view string }{
		{"/", en["center.title"], "signin"},
		{"/staff", en["staff.title"], "signin"},
	} {
		b.open(c.path)
		if got := eval[string](b, `document.title`); got != c.title {
			t.Errorf("%s: title %q, want %q", c.path, got, c.title)
		}
		if eval[bool](b, `document.getElementById(`+js(c.view)+`).hidden`) {
			t.Errorf("%s: the sign-in is hidden with no session", c.path)
		}
		b.clean()

		r, err := http.Get(env.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", c.path, csp, want)
			}
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"} {
			if r.Header.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", c.path, k, r.Header.Get(k), v)
			}
		}
		if r.Header.Get("Permissions-Policy") == "" {
			t.Errorf("%s: no Permissions-Policy", c.path)
		}
	}

	// An attacker's inline script or style (say, through an injection)
	// does not run.
	b.open("/")
	got := eval[map[string]any](b, `(async () => {
		const s = document.createElement("script");
		s.textContent = "window.__inline = 1";
		document.head.append(s);
		const st = document.createElement("style");
		st.textContent = "main { display: none }";
		document.head.append(st);
		await new Promise((r) => setTimeout(r, 200));
		return { script: window.__inline === 1, style: getComputedStyle(document.querySelector("main")).display === "none", violations: window.__csp.length };
	})()`)
	if got["script"] == true || got["style"] == true || got["violations"].(float64) < 2 {
		t.Errorf("an injected inline script or style was not blocked by the CSP: %v", got)
	}
	b.forget()

	// The WebAssembly sign-in loads under the CSP ('wasm-unsafe-eval').
	b.wait(`typeof globalThis.candorLogin === "object"`)
	b.clean()
}

// A wrong password shows the API's own message in the page, in an alert,
// and the password never leaves the page.
func TestWrongPassword(t *testing.T) {
	env := servertest.Start(t)
	signup(t, env)
	b := newBrowser(t, env.URL)
	var sent []string
	var mu sync.Mutex
	chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.HasPostData {
			mu.Lock()
			for _, p := range e.Request.PostDataEntries {
				sent = append(sent, string(p.Bytes))
			}
			sent = append(sent, e.Request.URL)
			mu.Unlock()
		}
	})
	b.open("/")
	b.fill("#signin-email", testEmail)
	b.fill("#signin-password", wrongPass)
	b.run(chromedp.SendKeys("#signin-password", "\r")) // from the keyboard: Enter submits
	b.wait(`document.getElementById("signin-alert").textContent.length > 0`)
	shown := b.text("signin-alert")

	handle, key := credentials(t, env, testEmail, wrongPass)
	st, out := post(t, env, "/v1/sessions", browserLogin{Handle: handle, AuthKey: key, Browser: true})
	var e api.ErrorResponse
	if st < 400 || json.Unmarshal(out, &e) != nil || e.Error.Message == "" {
		t.Fatalf("POST /v1/sessions with a wrong password: %d %s", st, out)
	}
	t.Logf("the page shows the API's answer (%d): %q", st, shown)
	if shown != e.Error.Message {
		t.Errorf("the page shows %q, the API said %q", shown, e.Error.Message)
	}
	if role := eval[string](b, `document.getElementById("signin-alert").getAttribute("role")`); role != "alert" {
		t.Errorf("the message is in an element of role %q, not alert", role)
	}
	if !eval[bool](b, `document.getElementById("app").hidden`) {
		t.Error("a wrong password showed the signed-in view")
	}
	mu.Lock()
	for _, s := range sent {
		for _, secret := range []string{wrongPass, testEmail, strings.ToLower(testEmail), url.QueryEscape(testEmail)} {
			if strings.Contains(s, secret) {
				t.Errorf("the page sent the email or password: %.200s", s)
			}
		}
	}
	mu.Unlock()
	b.clean()
}

// When the server cannot be reached, the page says so; when it is sealed,
// the page says that too, with when to try again.
func TestFailures(t *testing.T) {
	en := dict(t, "en")
	t.Run("sealed", func(t *testing.T) {
		env := servertest.StartProduction(t, server.Config{})
		b := newBrowser(t, env.URL)
		b.open("/")
		if eval[bool](b, `document.getElementById("signin").hidden`) {
			t.Error("on a sealed server the sign-in is hidden")
		}
		b.fill("#signin-email", testEmail)
		b.fill("#signin-password", testPassword)
		b.run(chromedp.Click("#signin-submit"))
		b.wait(`document.getElementById("signin-alert").textContent.length > 0`)
		if msg := b.text("signin-alert"); !strings.Contains(msg, en["error.sealed"]) {
			t.Errorf("on a sealed server the page says %q, want it to say %q", msg, en["error.sealed"])
		}
		// The staff console shows the seal before anyone signs in.
		b.open("/staff")
		var st api.OperatorStatus
		if r, err := http.Get(env.URL + "/v1/operator/status"); err != nil {
			t.Fatal(err)
		} else {
			json.NewDecoder(r.Body).Decode(&st)
			r.Body.Close()
		}
		want := en["staff.seal.uninitialized"]
		if st.Initialized {
			want = en["staff.seal.sealed"]
		}
		b.wait(`document.getElementById("seal-facts").textContent.length > 0`)
		if got := b.text("seal-facts"); !strings.Contains(got, want) {
			t.Errorf("the staff console shows the seal as %q, want %q", got, want)
		}
		b.clean()
	})
	t.Run("unreachable", func(t *testing.T) {
		env := servertest.Start(t)
		b := newBrowser(t, env.URL)
		b.open("/")
		b.wait(`typeof globalThis.candorLogin === "object"`)
		env.Stop()
		b.fill("#signin-email", testEmail)
		b.fill("#signin-password", testPassword)
		b.run(chromedp.Click("#signin-submit"))
		b.wait(`document.getElementById("signin-alert").textContent.length > 0`)
		if got := b.text("signin-alert"); got != en["error.network"] {
			t.Errorf("with the server gone the page says %q, want %q", got, en["error.network"])
		}
		b.clean()
	})
}

// The full sign-in, with a browser session: the overview, this browser
// among the devices, the access log checked in the page, sign-out.
func TestSignIn(t *testing.T) {
	env := servertest.Start(t)
	signup(t, env)
	handle, key := credentials(t, env, testEmail, testPassword)
	st, out := post(t, env, "/v1/sessions", browserLogin{Handle: handle, AuthKey: key, Browser: true})
	var s struct {
		CSRF string `json:"csrf"`
	}
	if st != http.StatusCreated || json.Unmarshal(out, &s) != nil || s.CSRF == "" {
		t.Skipf("POST /v1/sessions with browser: true answered %d without csrf: this server has no browser sessions yet, so the privacy center cannot sign in", st)
	}
	en := dict(t, "en")
	b := newBrowser(t, env.URL)
	b.open("/")
	b.fill("#signin-email", testEmail)
	b.fill("#signin-password", testPassword)
	b.run(chromedp.Click("#signin-submit"))
	b.wait(`!document.getElementById("app").hidden || document.getElementById("signin-alert").textContent.length > 0`)
	if msg := b.text("signin-alert"); msg != "" {
		t.Fatalf("sign-in failed in the page: %s%s", msg, b.report())
	}
	if v := eval[string](b, `document.getElementById("signin-password").value`); v != "" {
		t.Error("the password stays in the form after sign-in")
	}

	b.wait(`document.querySelectorAll("#section tbody tr").length === 5`)
	axeCheck(t, b, "the overview")
	b.run(chromedp.Click(`#nav button[data-section="devices"]`))
	b.wait(`[...document.querySelectorAll("#section .badge")].some((e) => e.textContent === ` + js(en["devices.current"]) + `)`)
	axeCheck(t, b, "the devices")

	b.run(chromedp.Click(`#nav button[data-section="log"]`))
	b.wait(`document.querySelector("#section .mono") || document.getElementById("alert").textContent`)
	if msg := b.text("alert"); msg != "" {
		t.Errorf("the access log: %s", msg)
	} else {
		if eval[bool](b, `!!document.querySelector("#section .alarm")`) {
			t.Errorf("the access log raised an alarm on a fresh server: %s", eval[string](b, `document.querySelector("#section .alarm").textContent`))
		}
		if fp := eval[string](b, `document.querySelector("#section .mono").textContent`); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(fp) {
			t.Errorf("key fingerprint %q", fp)
		}
		if n := eval[int](b, `[...document.querySelectorAll("#section .badge.ok")].filter((e) => e.textContent.includes(`+js(en["log.verified"])+`)).length`); n == 0 {
			t.Error("no entry of the access log is marked verified (the sign-in itself is one)")
		}
		axeCheck(t, b, "the access log")
	}

	// A server that shows another audit key than the one this browser
	// pinned raises the alarm and shows no entry as verified.
	eval[bool](b, `(localStorage.setItem("candor.audit.pin", JSON.stringify({ key: "impostor+00000000+AAAA", at: "2026-01-01T00:00:00Z" })), true)`)
	b.run(chromedp.Click(`#nav button[data-section="overview"]`))
	b.wait(`document.querySelectorAll("#section tbody tr").length === 5`)
	b.run(chromedp.Click(`#nav button[data-section="log"]`))
	b.wait(`!!document.querySelector("#section .alarm") || document.getElementById("alert").textContent`)
	if !eval[bool](b, `!!document.querySelector("#section .alarm[role=alert]")`) {
		t.Errorf("no alarm when the audit key differs from the pinned one: %s", b.text("alert"))
	}
	if eval[int](b, `document.querySelectorAll("#section li .badge.ok").length`) != 0 {
		t.Error("entries are marked verified under a key that is not the pinned one")
	}

	b.run(chromedp.Click(`#nav button[data-section="account"]`))
	b.wait(`[...document.querySelectorAll("#section button")].some((e) => e.textContent === ` + js(en["account.signout"]) + `)`)
	eval[bool](b, `([...document.querySelectorAll("#section button")].find((e) => e.textContent === `+js(en["account.signout"])+`).click(), true)`)
	b.wait(`!document.getElementById("signin").hidden`)
	b.open("/")
	if eval[bool](b, `document.getElementById("signin").hidden`) {
		t.Error("after sign-out, a reload is still signed in")
	}

	// Deleting the account asks for the password again: a wrong one is
	// refused with the API's message, the right one deletes it.
	b.fill("#signin-email", testEmail)
	b.fill("#signin-password", testPassword)
	b.run(chromedp.Click("#signin-submit"))
	b.wait(`!document.getElementById("app").hidden`)
	b.run(chromedp.Click(`#nav button[data-section="account"]`))
	b.wait(`!!document.getElementById("del-password")`)
	deleteWith := func(password string) {
		b.fill("#del-email", testEmail)
		b.fill("#del-password", password)
		eval[bool](b, `(document.querySelector("#section form button[type=submit]").click(), true)`)
		b.wait(`!!document.querySelector("dialog[open]")`)
		eval[bool](b, `(document.querySelector("dialog[open] button.danger").click(), true)`)
	}
	// The dialog closes with Escape, sends nothing and gives focus back.
	b.fill("#del-email", testEmail)
	b.fill("#del-password", testPassword)
	b.run(chromedp.Focus("#section form button[type=submit]"))
	eval[bool](b, `(document.querySelector("#section form button[type=submit]").click(), true)`)
	b.wait(`!!document.querySelector("dialog[open]")`)
	if !eval[bool](b, `document.querySelector("dialog[open]").contains(document.activeElement)`) {
		t.Error("the open dialog does not hold the focus")
	}
	b.run(chromedp.KeyEvent("\x1b"))
	b.wait(`!document.querySelector("dialog")`)
	if !eval[bool](b, `document.activeElement === document.querySelector("#section form button[type=submit]")`) {
		t.Error("after Escape, the focus is not back on the button that opened the dialog")
	}
	if eval[bool](b, `document.getElementById("app").hidden`) {
		t.Fatal("cancelling the deletion signed out")
	}
	deleteWith(wrongPass)
	b.wait(`document.querySelector("#section form [role=alert]").textContent.length > 0`)
	if msg := eval[string](b, `document.querySelector("#section form [role=alert]").textContent`); msg == "" {
		t.Error("a wrong password at deletion shows nothing")
	}
	deleteWith(testPassword)
	b.wait(`!document.getElementById("signin").hidden`)
	if st, _ := post(t, env, "/v1/sessions", browserLogin{Handle: handle, AuthKey: key, Browser: true}); st != http.StatusUnauthorized {
		t.Errorf("after deletion in the page, signing in answers %d, want 401", st)
	}
	b.clean()
}

// Each language is chosen from the browser's languages, switched in the
// page and remembered; <html lang> follows, and every marked string is the
// language's own (none is left as its key).
func TestLanguages(t *testing.T) {
	env := servertest.Start(t)
	b := newBrowser(t, env.URL, chromedp.Flag("accept-lang", "hi-IN,hi"))
	b.open("/")
	if got := eval[string](b, `document.documentElement.lang`); got != "hi" {
		t.Errorf("a browser asking for Hindi got lang %q", got)
	}
	keyLike := regexp.MustCompile(`^[a-z][A-Za-z]*(\.[A-Za-z_]+)+$`)
	for _, path := range []string{"/", "/staff"} {
		b.open(path)
		for _, lang := range []string{"zh-Hans", "en", "hi"} {
			d := dict(t, lang)
			b.setLang(lang)
			b.wait(`document.documentElement.lang === ` + js(lang))
			type marked struct{ Key, Text, Label string }
			for _, m := range eval[[]marked](b, `[...document.querySelectorAll("[data-i18n],[data-i18n-label]")].map((e) => ({ key: e.dataset.i18n || e.dataset.i18nLabel, text: e.dataset.i18n ? e.textContent : e.getAttribute("aria-label") }))`) {
				want, ok := d[m.Key]
				if !ok {
					t.Errorf("%s %s: the page uses %q, which %s.json lacks", path, lang, m.Key, lang)
				} else if m.Text != want {
					t.Errorf("%s %s: %q shows %q, want %q", path, lang, m.Key, m.Text, want)
				}
			}
			for _, s := range eval[[]string](b, `[...document.body.querySelectorAll("*")].filter((e) => e.children.length === 0 && e.offsetParent !== null).map((e) => e.textContent.trim())`) {
				if keyLike.MatchString(s) {
					t.Errorf("%s %s: %q is shown untranslated", path, lang, s)
				}
			}
		}
		b.setLang("zh-Hans")
		b.wait(`document.documentElement.lang === "zh-Hans"`)
		b.open(path)
		if got := eval[string](b, `document.documentElement.lang`); got != "zh-Hans" {
			t.Errorf("%s: the chosen language was not remembered: %q after a reload", path, got)
		}
	}
	b.clean()
}

// axeCheck runs axe-core on the page as it is, when CANDOR_TEST_AXE is
// set, and fails the test on each violation.
func axeCheck(t *testing.T, b *browser, where string) {
	t.Helper()
	p := os.Getenv("CANDOR_TEST_AXE")
	if p == "" {
		return
	}
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("CANDOR_TEST_AXE=%s: %v", p, err)
	}
	eval[bool](b, string(src)+"\n;true")
	type violation struct {
		ID, Impact, Help string
		Nodes            []string
	}
	for _, v := range eval[[]violation](b, `axe.run(document).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })))`) {
		t.Errorf("%s: axe %s (%s): %s at %v", where, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// axe returns axe-core's source, or skips the test without it (fails
// under CI).
func axe(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CANDOR_TEST_AXE")
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CANDOR_TEST_AXE is not set under CI: .ci/run sources scripts/ci/axe.sh, which installs axe-core and sets it")
		}
		t.Skip("CANDOR_TEST_AXE is not set: `. scripts/ci/axe.sh` installs axe-core and sets it")
	}
	src, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("CANDOR_TEST_AXE=%s: %v", p, err)
	}
	return string(src)
}

// axe-core finds no accessibility violation on the sign-in pages, in any
// language.
func TestAccessibility(t *testing.T) {
	src := axe(t)
	env := servertest.Start(t)
	b := newBrowser(t, env.URL)
	type violation struct {
		ID, Impact, Help string
		Nodes            []string
	}
	type result struct {
		Violations []violation
		Passes     int
	}
	const axeRun = `axe.run(document).then((r) => ({ passes: r.passes.length, violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) })) }))`
	for _, path := range []string{"/", "/staff"} {
		for _, lang := range languages {
			b.open(path)
			b.setLang(lang)
			b.wait(`document.documentElement.lang === ` + js(lang))
			eval[bool](b, src+"\n;true")
			res := eval[result](b, axeRun)
			if res.Passes < 10 {
				t.Errorf("%s in %s: axe passed only %d rules: did it run?", path, lang, res.Passes)
			}
			for _, v := range res.Violations {
				t.Errorf("%s in %s: axe %s (%s): %s at %v", path, lang, v.ID, v.Impact, v.Help, v.Nodes)
			}
		}
	}
	// The check has teeth: an input without a label is found.
	eval[bool](b, `(document.querySelector("main").append(Object.assign(document.createElement("input"), { type: "text" })), true)`)
	if res := eval[result](b, axeRun); !slices.ContainsFunc(res.Violations, func(v violation) bool { return v.ID == "label" }) {
		t.Errorf("axe did not find an input without a label: %+v", res.Violations)
	}
	b.clean()
}

// The staff console: a staff member registers a passkey with their staff
// token, signs in with it (a virtual authenticator of Chromium's stands in
// for the phone or security key), sees the requests and the system, and
// signs out. It skips on a server without staff passkeys.
func TestStaffConsole(t *testing.T) {
	env, base, init := startWithConsole(t)
	bearer := func(path, token string, body any) (int, []byte) { return bearer(t, env, "POST", path, token, body) }
	var admin api.StaffAdded
	if st, out := bearer("/v1/staff", init.StaffToken, api.StaffAddRequest{Name: "asha", Roles: []string{"admin"}}); st >= 300 || json.Unmarshal(out, &admin) != nil {
		t.Fatalf("POST /v1/staff: %d %s", st, out)
	}
	if st, _ := bearer("/v1/staff/passkeys/options", admin.Token, struct{}{}); st == http.StatusNotFound || st == http.StatusMethodNotAllowed {
		t.Skipf("POST /v1/staff/passkeys/options answered %d: this server has no staff passkeys yet, so the staff console cannot sign in", st)
	}

	b := newBrowser(t, base, localhost)
	addAuthenticator(b)
	en := dict(t, "en")
	b.open("/staff")
	b.fill("#register-token", admin.Token)
	b.run(chromedp.Click("#register-submit"))
	b.wait(`document.getElementById("status").textContent.length > 0 || document.getElementById("alert").textContent.length > 0`)
	if msg := b.text("alert"); msg != "" {
		t.Fatalf("registering a passkey: %s%s", msg, b.report())
	}
	if v := eval[string](b, `document.getElementById("register-token").value`); v != "" {
		t.Error("the staff token stays in the form after registering")
	}
	b.run(chromedp.Click("#passkey-signin"))
	b.wait(`!document.getElementById("app").hidden || document.getElementById("alert").textContent.length > 0`)
	if msg := b.text("alert"); msg != "" {
		t.Fatalf("signing in with the passkey: %s%s", msg, b.report())
	}
	if who := b.text("whoami"); !strings.Contains(who, "asha") {
		t.Errorf("signed in as %q", who)
	}
	b.wait(`document.querySelector("#section h2") && !document.querySelector("#section p.muted")`)
	b.run(chromedp.Click(`#nav button[data-section="system"]`))
	b.wait(`document.querySelectorAll("#section h3").length >= 2 || document.getElementById("alert").textContent.length > 0`)
	axeCheck(t, b, "the staff console's system section")
	if msg := b.text("alert"); msg != "" {
		t.Errorf("the system section: %s", msg)
	}
	if !strings.Contains(eval[string](b, `document.getElementById("section").textContent`), en["staff.seal.unsealed"]) {
		t.Error("the system section does not say the server is unsealed")
	}
	b.run(chromedp.Click("#staff-signout"))
	b.wait(`!document.getElementById("signin").hidden`)
	b.open("/staff")
	if eval[bool](b, `document.getElementById("signin").hidden`) {
		t.Error("after sign-out, a reload is still signed in")
	}
	b.clean()
}

// startWithConsole starts a production server after its key ceremony,
// whose pages are at base, http://localhost:PORT: passkeys need a domain,
// not an address, so the server is told that origin (web.origin) and the
// browsers open it. init holds the bootstrap staff token.
func startWithConsole(t *testing.T) (env *servertest.Env, base string, init api.InitResponse) {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	base = "http://localhost:" + port
	env = servertest.StartProduction(t, server.Config{Addr: addr, Web: server.Web{Origin: base}})
	if st, out := post(t, env, "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}); st != http.StatusOK && st != http.StatusCreated || json.Unmarshal(out, &init) != nil {
		t.Fatalf("POST /v1/operator/init: %d %s", st, out)
	}
	return env, base, init
}

// localhost lets Chromium resolve localhost (every other name fails).
var localhost = chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost")

// freeAddr returns a free address of 127.0.0.1 for a server to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
