package privacycenter

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/login"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// tamperer is a proxy in front of the server that alters the access log's
// pages in flight as a server holding the audit signing key could: every
// entry it leaves keeps its own inclusion proof and the checkpoint its
// signature, so only the page's pinned account and its record of what it
// was shown can tell.
type tamperer struct {
	mu      sync.Mutex
	alter   func(r *http.Request, page *api.AccessLog) // nil: pass pages as they are
	indexes []int64                                    // the entries of the last page passed
	last    api.AccessLog                              // the last page passed
}

func (p *tamperer) set(f func(r *http.Request, page *api.AccessLog)) {
	p.mu.Lock()
	p.alter = f
	p.mu.Unlock()
}

func (p *tamperer) shown() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.indexes...)
}

func (p *tamperer) lastPage() api.AccessLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

func (p *tamperer) start(t *testing.T, upstream string) string {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != "/v1/account/access-log" || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var page api.AccessLog
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		p.mu.Lock()
		if p.alter != nil {
			p.alter(resp.Request, &page)
		}
		p.last = page
		p.indexes = p.indexes[:0]
		for _, e := range page.Entries {
			p.indexes = append(p.indexes, e.Index)
		}
		p.mu.Unlock()
		if b, err = json.Marshal(page); err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		resp.Header.Del("Content-Encoding")
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestAccessLogAlteredInFlight signs in to the privacy center through a
// proxy that alters the server's answers, and checks the access log page
// raises its alarm (role=alert) and keeps nothing of the altered log: an
// event whose text was edited, the owner's log with an entry it showed
// before left out, and another account's genuine, signed log served as
// the owner's. Between the attacks the honest log loads with no alarm.
func TestAccessLogAlteredInFlight(t *testing.T) {
	env := servertest.Start(t)
	signup(t, env)
	handle, key := credentials(t, env, testEmail, testPassword)
	st, out := post(t, env, "/v1/sessions", browserLogin{Handle: handle, AuthKey: key, Browser: true})
	var s struct {
		CSRF string `json:"csrf"`
	}
	if st != http.StatusCreated || json.Unmarshal(out, &s) != nil || s.CSRF == "" {
		t.Skipf("POST /v1/sessions with browser: true answered %d without csrf: this server has no browser sessions yet", st)
	}
	proxy := &tamperer{}
	b := newBrowser(t, proxy.start(t, env.URL))
	en := dict(t, "en")
	b.open("/")
	b.fill("#signin-email", testEmail)
	b.fill("#signin-password", testPassword)
	b.run(chromedp.Click("#signin-submit"))
	b.wait(`!document.getElementById("app").hidden || document.getElementById("signin-alert").textContent.length > 0`)
	if msg := b.text("signin-alert"); msg != "" {
		t.Fatalf("sign-in failed in the page: %s%s", msg, b.report())
	}
	b.wait(`document.querySelectorAll("#section tbody tr").length === 5`)

	// load opens the access log again (each opening checks it anew) and
	// returns the alarm's text, "" for none.
	load := func() string {
		t.Helper()
		b.run(chromedp.Click(`#nav button[data-section="overview"]`))
		b.wait(`document.querySelectorAll("#section tbody tr").length === 5`)
		b.run(chromedp.Click(`#nav button[data-section="log"]`))
		b.wait(`document.querySelector("#section .mono") || document.getElementById("alert").textContent`)
		if msg := b.text("alert"); msg != "" {
			t.Fatalf("the access log: %s", msg)
		}
		return eval[string](b, `(document.querySelector("#section .alarm[role=alert]") || { textContent: "" }).textContent`)
	}
	prefix := func(key string) string { return strings.SplitN(en[key], "(", 2)[0] }
	alarmed := func(what, alarm, key, want string) {
		t.Helper()
		if !strings.HasPrefix(alarm, prefix(key)) || !strings.Contains(alarm, want) {
			t.Errorf("%s: alarm %q, want %s naming %q", what, alarm, key, want)
		}
	}
	honest := func(what string) {
		t.Helper()
		proxy.set(nil)
		if alarm := load(); alarm != "" {
			t.Fatalf("the honest log %s: alarm %q", what, alarm)
		}
	}

	honest("at first")
	first := proxy.shown()
	if len(first) == 0 {
		t.Fatal("the owner's log shows no entry (the sign-in itself is one)")
	}
	pinned := eval[string](b, `Object.keys(localStorage).filter((k) => k.startsWith("candor.audit.account.")).map((k) => localStorage.getItem(k)).join(",")`)
	if pinned == "" || strings.Contains(pinned, ",") {
		t.Errorf("the pinned account pseudonyms: %q", pinned)
	}
	if eval[int](b, `Object.keys(localStorage).filter((k) => k.startsWith("candor.audit.seen.") && JSON.parse(localStorage.getItem(k)).shown).length`) != 1 {
		t.Error("no shown state kept for the log")
	}

	// An event's text edited in flight: its proof no longer fits.
	proxy.set(func(_ *http.Request, p *api.AccessLog) {
		e := &p.Entries[len(p.Entries)-1]
		e.Event = strings.Replace(e.Event, `"ok"`, `"denied"`, 1)
	})
	alarmed("an event altered in flight", load(), "log.alarm.proof", "is not in the signed log")
	if n := eval[int](b, `document.querySelectorAll("#section li .badge.ok").length`); n != 0 {
		t.Errorf("%d entries marked verified under an altered log", n)
	}
	honest("after an altered event")

	// The first entry this browser was shown, left out: every other entry
	// and the checkpoint verify.
	drop := first[0]
	proxy.set(func(_ *http.Request, p *api.AccessLog) {
		p.Entries = slices.DeleteFunc(p.Entries, func(e api.AccessLogEntry) bool { return e.Index == drop })
	})
	alarmed("an entry shown before left out", load(), "log.alarm.shown", "some are missing or new")
	honest("after a dropped entry")

	// Another account's log, genuine and signed by the same key over a
	// log that grew since this browser last saw it, served as the owner's:
	// refused, for the owner's account is pinned.
	otherPage := otherAccountsLog(t, env)
	proxy.set(func(_ *http.Request, p *api.AccessLog) { *p = otherPage })
	alarmed("another account's log as the owner's", load(), "log.alarm.proof", "is another account's")
	// The owner's first page, then another account's as the next, in one
	// load.
	proxy.set(func(r *http.Request, p *api.AccessLog) {
		if r.URL.Query().Get("after") == "" {
			p.More = true
			return
		}
		*p = otherPage
	})
	alarmed("the owner's page, then another account's", load(), "log.alarm.proof", "is another account's")
	honest("after another account's log")

	// One load whose pages' checkpoints do not extend one another: the
	// first page under the newest checkpoint, the next under the one this
	// browser saw last, hiding what the log gained since (here the owner's
	// new sign-in). Each page verifies, and what is shown is what was
	// shown before; the second checkpoint rolls the first back.
	before := proxy.lastPage()
	if len(before.Entries) < 2 {
		t.Fatalf("the owner's log shows %d entries, want at least 2", len(before.Entries))
	}
	if st, _ := post(t, env, "/v1/sessions", browserLogin{Handle: handle, AuthKey: key, Browser: true}); st != http.StatusCreated {
		t.Fatalf("signing in again: %d", st)
	}
	proxy.set(func(r *http.Request, p *api.AccessLog) {
		if r.URL.Query().Get("after") == "" {
			p.Entries, p.More = p.Entries[:1], true
			return
		}
		*p = before
		p.Entries = before.Entries[1:]
	})
	alarmed("pages of one load under a newer checkpoint, then the older", load(), "log.alarm.fork", "")
	honest("after pages rolled back within a load")
	b.clean()
}

// otherAccountsLog signs up another account with a phone and returns the
// first page of its access log, as the server signed it.
func otherAccountsLog(t *testing.T, env *servertest.Env) api.AccessLog {
	t.Helper()
	kdf := api.KDF(login.MinimumCost)
	dir := t.TempDir()
	c, err := client.Init(dir, client.Config{Server: env.URL, IMEI: "356938035643817", Phone: "+919812345670", Country: "IN"}, client.WithKDF(kdf), client.WithKDFFloor(kdf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Signup(t.Context(), "Quill.Marrow@Example.Invalid", "Velvet-Harbor-2208!"); err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Token string `json:"token"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "session.json")); err != nil || json.Unmarshal(b, &sess) != nil || sess.Token == "" {
		t.Fatalf("the other phone's session: %v", err)
	}
	st, out := bearer(t, env, "GET", "/v1/account/access-log", sess.Token, nil)
	var page api.AccessLog
	if st != http.StatusOK || json.Unmarshal(out, &page) != nil || len(page.Entries) == 0 {
		t.Fatalf("the other account's log: %d %s", st, out)
	}
	return page
}
