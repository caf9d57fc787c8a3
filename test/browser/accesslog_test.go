package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/cloudflare/circl/oprf"
	"golang.org/x/mod/sumdb/note"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/auditproof"
	"github.com/candorcloud/candor/client/auditproof/auditprooftest"
	candorserver "github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// staffAPI calls the staff API with a staff token.
type staffAPI struct {
	t          *testing.T
	url, token string
}

func (s staffAPI) must(method, path string, in, out any) {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, body)
	req.Header.Set("Content-Type", "application/json")
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// accessLogResult is what the page's accessLog resolves to.
type accessLogResult struct {
	Key         string        `json:"key"`
	Pages       []string      `json:"pages"`
	Checked     []checkedPage `json:"checked"`
	MS          []float64     `json:"ms"`
	Fingerprint string        `json:"fingerprint"`
	Account     string        `json:"account"`
	Shown       *shownState   `json:"shown"`
}

// shownState is what checkShown resolves to: what to keep of a log.
type shownState struct {
	Upto   int64  `json:"upto"`
	Digest []byte `json:"digest"`
}

type checkedPage struct {
	Checkpoint struct {
		Log  string `json:"log"`
		Size int64  `json:"size"`
		Hash []byte `json:"hash"`
	} `json:"checkpoint"`
	Entries []browserEntry `json:"entries"`
	Account string         `json:"account"`
}

type browserEntry struct {
	client.Access
	Staff bool `json:"staff"`
}

// TestBrowserAccessLog runs the access log's checks in Chromium, from the
// WebAssembly build of package client/auditproof, against a real Candor
// server: a phone signed up with the client SDK, synced, changed a consent,
// and had its contacts read by staff under an approved request (and a read
// refused). The page fetches the key and the log itself; what it verifies
// must be exactly what the phone's AccessLog returns, staff reads marked.
// Then it attacks: an altered event, a flipped proof hash, a checkpoint
// signed by another key, a rolled-back or forked log, a proof that does
// not fit, each must be refused with a sentence saying what failed. It
// logs the time to verify a page in Chromium.
func TestBrowserAccessLog(t *testing.T) {
	exe := chromium(t)
	ctx := context.Background()
	dir := t.TempDir()
	buildWasm(t, dir)

	env := servertest.StartProduction(t, candorserver.Config{})
	boot := staffAPI{t: t, url: env.URL}
	var init api.InitResponse
	boot.must("POST", "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}, &init)
	boot.token = init.StaffToken
	addStaff := func(name, roles string) staffAPI {
		var s api.StaffAdded
		boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: name, Roles: strings.Split(roles, ",")}, &s)
		return staffAPI{t: t, url: env.URL, token: s.Token}
	}
	eng, ap1, ap2 := addStaff("eng", "engineer"), addStaff("ap1", "approver"), addStaff("ap2", "approver")

	kdf := api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}
	phoneDir := t.TempDir()
	phone, err := client.Init(phoneDir, client.Config{Server: env.URL, IMEI: "356938035643809", Phone: "+919812345678", Country: "IN"},
		client.WithKDF(kdf), client.WithKDFFloor(kdf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Contacts().Add("Oriel Quillfeather", "+919876543210"); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Signup(ctx, "oriel@example.invalid", "Orchid-Lantern-7731!"); err != nil {
		t.Fatal(err)
	}
	for _, cat := range []candor.Category{candor.Contacts, candor.Notes} {
		if _, err := phone.SetConsent(ctx, cat, true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := phone.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Token string `json:"token"`
	}
	b, err := os.ReadFile(filepath.Join(phoneDir, "session.json"))
	if err != nil || json.Unmarshal(b, &sess) != nil || sess.Token == "" {
		t.Fatalf("the phone's session token: %v", err)
	}

	key, err := oprf.DeriveKey(oprf.SuiteRistretto255, oprf.BaseMode, []byte(kaSeed), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, dir, key, env.URL)
	u, _ := url.Parse(srv.URL)
	bctx := browse(t, exe, u.Host)
	if _, err := chromedp.Run(bctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	run[float64](t, bctx, "window.ready")

	// A first look, before staff read anything: the page keeps its checkpoint.
	first := run[accessLogResult](t, bctx, "accessLog("+js(sess.Token)+")")
	firstCP := pageCheckpoint(t, first.Pages[len(first.Pages)-1])

	// Staff read the contacts under a request two approvers approved, and
	// are refused the notes, which the request does not cover.
	var req api.AccessRequest
	st, _ := phone.Status()
	eng.must("POST", "/v1/access-requests", api.AccessRequestCreate{Account: string(st.Account), Categories: []string{"contacts"},
		Reason: "ticket-4711 sync bug", Duration: "1h"}, &req)
	ap1.must("POST", "/v1/access-requests/"+req.ID+"/approve", nil, nil)
	ap2.must("POST", "/v1/access-requests/"+req.ID+"/approve", nil, nil)
	eng.must("POST", "/v1/access-requests/"+req.ID+"/read", api.StaffReadRequest{Category: "contacts"}, nil)
	if code := eng.status("POST", "/v1/access-requests/"+req.ID+"/read", api.StaffReadRequest{Category: "notes"}); code != http.StatusForbidden {
		t.Fatalf("a staff read outside the request: %d", code)
	}
	if _, err := phone.SetConsent(ctx, candor.Notes, false); err != nil {
		t.Fatal(err)
	}

	got := run[accessLogResult](t, bctx, "accessLog("+js(sess.Token)+")")
	want, err := phone.AccessLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var entries []browserEntry
	for _, p := range got.Checked {
		entries = append(entries, p.Entries...)
	}
	if len(entries) != len(want) {
		t.Fatalf("the browser verified %d entries, the phone %d", len(entries), len(want))
	}
	var staffReads, staffRefused, syncs, consents int
	for i, e := range entries {
		w := want[i]
		if !e.Time.Equal(w.Time) {
			t.Errorf("entry %d: time %v in the browser, %v on the phone", w.Index, e.Time, w.Time)
		}
		e.Time = w.Time
		if !e.Verified || !equalAccess(e.Access, w) {
			t.Errorf("entry %d differs:\nbrowser %+v\nphone   %+v", w.Index, e.Access, w)
		}
		if e.Staff != strings.HasPrefix(w.Actor, "staff:") {
			t.Errorf("entry %d by %s: staff = %v", w.Index, w.Actor, e.Staff)
		}
		switch {
		case e.Staff && e.Action == "staff.read" && e.Outcome == "ok":
			staffReads++
			if e.Reason != "ticket-4711 sync bug" || len(e.Approvers) != 2 || e.Category != "contacts" {
				t.Errorf("the staff read: %+v", e)
			}
		case e.Staff && e.Action == "staff.read":
			staffRefused++
		case strings.HasPrefix(e.Action, "records."):
			syncs++
		case e.Action == "consent.set":
			consents++
		}
	}
	if staffReads != 1 || staffRefused != 1 || syncs == 0 || consents != 3 {
		t.Errorf("the browser's log: %d staff reads, %d refused, %d syncs, %d consent changes", staffReads, staffRefused, syncs, consents)
	}
	fp, err := phone.AuditKeyFingerprint()
	if err != nil || got.Fingerprint != fp || fp != auditproof.Fingerprint(got.Key) || len(fp) != 16 {
		t.Errorf("fingerprint: browser %q, phone (as candor device access-log prints it) %q, %v", got.Fingerprint, fp, err)
	}

	// The log grew since the first look: the new checkpoint extends the
	// kept one, and not the other way round.
	page := got.Pages[len(got.Pages)-1]
	cp := pageCheckpoint(t, page)
	if cp.Size <= firstCP.Size {
		t.Fatalf("the log did not grow: %d, then %d", firstCP.Size, cp.Size)
	}
	if ok := run[bool](t, bctx, fmt.Sprintf("extends_(%s, %s, %d, %s)", js(got.Key), js(firstCP.Note), firstCP.Size, js(cp))); !ok {
		t.Error("the grown log's checkpoint does not extend the first")
	}
	if ok := run[bool](t, bctx, fmt.Sprintf("extends_(%s, %s, %d, %s)", js(got.Key), js(cp.Note), cp.Size, js(cp))); !ok {
		t.Error("a checkpoint does not extend itself")
	}

	// Attacks. Each must be refused with a sentence saying what failed.
	refuse := func(what, expr, want string) {
		t.Helper()
		msg := run[string](t, bctx, "refusal("+expr+")")
		if !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want a refusal saying %q", what, msg, want)
		}
	}
	edit := func(f func(p *auditproof.Page)) string {
		t.Helper()
		var p auditproof.Page
		if err := json.Unmarshal([]byte(page), &p); err != nil {
			t.Fatal(err)
		}
		f(&p)
		b, _ := json.Marshal(p)
		return string(b)
	}
	staffAt := slices.IndexFunc(entries, func(e browserEntry) bool { return e.Staff && e.Outcome == "ok" })
	if staffAt < 0 {
		t.Fatal("no staff read to tamper with")
	}
	// The staff read is on the last page: pages are read in order.
	lastFirst := len(entries) - len(got.Checked[len(got.Checked)-1].Entries)
	at := staffAt - lastFirst
	refuse("an entry whose event text was altered (the staff read's reason)", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		p.Entries[at].Event = strings.Replace(p.Entries[at].Event, "ticket-4711", "ticket-4712", 1)
	}))+")", fmt.Sprintf("entry %d is not in the signed log", entries[staffAt].Index))
	refuse("an entry whose outcome was altered", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		p.Entries[at].Event = strings.Replace(p.Entries[at].Event, `"ok"`, `"denied"`, 1)
	}))+")", "is not in the signed log")
	refuse("a proof hash with one bit flipped", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		h := append([]byte(nil), p.Entries[0].Proof[0]...)
		h[31] ^= 1
		p.Entries[0].Proof[0] = h
	}))+")", "is not in the signed log")
	refuse("an entry left without its proof", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		p.Entries[0].Proof = nil
	}))+")", "is not in the signed log")
	refuse("a checkpoint whose size was edited", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		p.Checkpoint.Size++
	}))+")", "malformed")

	other, err := auditprooftest.NewKey(strings.SplitN(got.Key, "+", 2)[0]) // the same name, another key
	if err != nil {
		t.Fatal(err)
	}
	resigned := resign(t, cp.Note, other.Signer)
	refuse("a checkpoint signed by another key", "candorLogin.checkEntries("+js(got.Key)+", "+js(edit(func(p *auditproof.Page) {
		p.Checkpoint.Note = resigned
	}))+")", "not signed by the trusted audit key")
	refuse("the real page checked with another key", "candorLogin.checkEntries("+js(other.Verifier)+", "+js(page)+")", "not signed by the trusted audit key")
	refuse("a malformed key", "candorLogin.checkEntries(\"candor+0+AAAA\", "+js(page)+")", "verifier key is not valid")
	refuse("a page that is not JSON", "candorLogin.checkEntries("+js(got.Key)+", \"<html>\")", "not valid JSON")
	refuse("a page far too large", "candorLogin.checkEntries("+js(got.Key)+", \"x\".repeat(9 << 20))", "longer than")
	refuse("no arguments", "candorLogin.checkEntries()", "two or three strings are needed")
	refuse("a pinned account that is not a string", "candorLogin.checkEntries("+js(got.Key)+", "+js(page)+", 7)", "two or three strings are needed")
	refuse("shown entries that are not JSON", "candorLogin.checkShown(\"\", \"<html>\")", "not valid JSON")
	refuse("a shown state that is not JSON", "candorLogin.checkShown(\"{\", \"[]\")", "not valid JSON")
	refuse("a shown entry without an index", "candorLogin.checkShown(\"\", \"[{}]\")", "has no index")
	refuse("checkShown with no arguments", "candorLogin.checkShown()", "two strings are needed")

	pinnedAttacks(t, bctx, env.URL, sess.Token, phoneDir, got, entries[staffAt].Index)

	// Consistency: a rolled-back log (the first checkpoint offered after
	// the later one), a proof that does not fit, a checkpoint signed by
	// another key.
	proof := func(old, size int64) string {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("%s/v1/audit/%s/consistency?old=%d&size=%d", env.URL, cp.Log, old, size))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	check := func(key, oldNote string, cp auditproof.Checkpoint, proof string) string {
		return fmt.Sprintf("candorLogin.checkConsistency(%s, %s, %s, %s)", js(key), js(oldNote), js(js(cp)), js(proof))
	}
	refuse("a rolled-back log", check(got.Key, cp.Note, firstCP, ""), fmt.Sprintf("rolled back: it had %d entries, now it has %d", cp.Size, firstCP.Size))
	refuse("a proof from another size", check(got.Key, firstCP.Note, cp, proof(firstCP.Size-1, cp.Size)), "not consistent with the one seen before")
	refuse("a grown log without a proof", check(got.Key, firstCP.Note, cp, ""), "not consistent")
	flipped := proof(firstCP.Size, cp.Size)
	var pr auditproof.Proof
	json.Unmarshal([]byte(flipped), &pr)
	pr.Proof[0][0] ^= 0x80
	refuse("a consistency proof with a flipped hash", check(got.Key, firstCP.Note, cp, js(pr)), "not consistent")
	signedByOther := cp
	signedByOther.Note = resigned
	refuse("a new checkpoint signed by another key", check(got.Key, firstCP.Note, signedByOther, proof(firstCP.Size, cp.Size)), "not signed by the trusted audit key")
	refuse("an old checkpoint signed by another key", check(got.Key, resign(t, firstCP.Note, other.Signer), cp, proof(firstCP.Size, cp.Size)), "the old checkpoint does not verify")

	// A forked log, which only the holder of a signing key can make: here
	// a log of the test's own key, forked after entry 5.
	fkey, err := auditprooftest.NewKey("candor.test")
	if err != nil {
		t.Fatal(err)
	}
	honest, fork := &auditprooftest.Log{Origin: "candor.test/audit", Name: "in"}, &auditprooftest.Log{Origin: "candor.test/audit", Name: "in"}
	for i := range 12 {
		ev := fmt.Appendf(nil, `{"time":"2026-11-21T06:55:%02dZ","actor":"device:2c4a","action":"records.push","outcome":"ok","account":"acct-a"}`, i)
		honest.Append(ev)
		if i >= 5 {
			ev = bytes.Replace(ev, []byte("records.push"), []byte("records.pull"), 1)
		}
		fork.Append(ev)
	}
	mustCP := func(l *auditprooftest.Log, n int64) auditproof.Checkpoint {
		cp, err := l.Checkpoint(n, fkey)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	mustProof := func(l *auditprooftest.Log, old, n int64) string {
		p, err := l.Consistency(old, n)
		if err != nil {
			t.Fatal(err)
		}
		return js(p)
	}
	if ok := run[bool](t, bctx, check(fkey.Verifier, mustCP(honest, 8).Note, mustCP(honest, 12), mustProof(honest, 8, 12))); !ok {
		t.Error("the honest test log does not extend itself")
	}
	refuse("a forked log that grew, with the fork's own proof", check(fkey.Verifier, mustCP(honest, 8).Note, mustCP(fork, 12), mustProof(fork, 8, 12)), "not consistent with the one seen before")
	refuse("a forked log of the same size", check(fkey.Verifier, mustCP(honest, 8).Note, mustCP(fork, 8), ""), "forked: two different trees of 8 entries")
	refuse("a checkpoint of another log", check(fkey.Verifier, mustCP(honest, 8).Note, func() auditproof.Checkpoint {
		l := &auditprooftest.Log{Origin: "candor.test/audit", Name: "sg"}
		l.Append([]byte(`{}`))
		return mustCP(l, 1)
	}(), ""), "the new checkpoint is of another log than the old one")

	// Time to verify a full page (500 entries, the server's page size) of
	// a log of 100,000, in Chromium and natively.
	big := &auditprooftest.Log{Origin: "candor.test/audit", Name: "in"}
	for i := range 100_000 {
		acct := "acct-b"
		if i%97 == 0 {
			acct = "acct-a"
		}
		big.Append(fmt.Appendf(nil, `{"time":"2026-11-21T06:55:00Z","actor":"device:2c4a","action":"records.push","outcome":"ok","region":"in","account":%q,"category":"contacts","count":%d}`, acct, i))
	}
	full := auditproof.Page{Checkpoint: mustCP(big, 100_000)}
	for i := int64(0); len(full.Entries) < 500; i += 97 {
		e, err := big.Entry(i, 100_000)
		if err != nil {
			t.Fatal(err)
		}
		full.Entries = append(full.Entries, e)
	}
	fullJSON, _ := json.Marshal(full)
	checked := run[checkedPage](t, bctx, "candorLogin.checkEntries("+js(fkey.Verifier)+", "+js(string(fullJSON))+")")
	if len(checked.Entries) != 500 || checked.Checkpoint.Size != 100_000 {
		t.Fatalf("the full page: %d entries, size %d", len(checked.Entries), checked.Checkpoint.Size)
	}
	chromiumMS := run[float64](t, bctx, "timeCheck("+js(fkey.Verifier)+", "+js(string(fullJSON))+", 9)")
	start := time.Now()
	v, _ := auditproof.Verifier(fkey.Verifier)
	tree, err := auditproof.CheckCheckpoint(full.Checkpoint, v)
	for _, e := range full.Entries {
		if _, _, err := auditproof.CheckEntry(e, tree); err != nil {
			t.Fatal(err)
		}
	}
	native := time.Since(start)
	t.Logf("access log: %d entries on %d pages of the real server, checked in Chromium in %v ms", len(entries), len(got.Pages), got.MS)
	t.Logf("a full page (500 entries, log of 100,000, %d bytes of JSON): Chromium %.1f ms (median of 9), native Go %v", len(fullJSON), chromiumMS, native.Round(time.Microsecond))
}

func equalAccess(a, b client.Access) bool {
	return a.Index == b.Index && a.Time.Equal(b.Time) && a.Actor == b.Actor && a.Action == b.Action && a.Outcome == b.Outcome &&
		a.Category == b.Category && a.Count == b.Count && a.Grant == b.Grant && a.Reason == b.Reason &&
		slices.Equal(a.Approvers, b.Approvers) && a.Code == b.Code && a.Verified == b.Verified
}

// pageCheckpoint is the checkpoint of a page's text.
func pageCheckpoint(t *testing.T, text string) auditproof.Checkpoint {
	t.Helper()
	var p auditproof.Page
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		t.Fatal(err)
	}
	return p.Checkpoint
}

// resign signs a checkpoint note's text again with s (and only s).
func resign(t *testing.T, msg string, s note.Signer) string {
	t.Helper()
	text, _, ok := strings.Cut(msg, "\n\n")
	if !ok {
		t.Fatalf("not a signed note: %q", msg)
	}
	b, err := note.Sign(&note.Note{Text: text + "\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s staffAPI) status(method, path string, in any) int {
	s.t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// pinnedAttacks attacks what the browser keeps between loads, as the phone
// keeps it: the account pseudonym pinned from the first entry, and what
// was shown of the log. A server holding the signing key can sign any
// checkpoint, so every entry it shows verifies; what it chooses to show
// is the attack: another account's entries for the owner's, or the
// owner's log with an entry it showed before (the staff read) left out.
func pinnedAttacks(t *testing.T, bctx context.Context, serverURL, token, phoneDir string, got accessLogResult, staffRead int64) {
	t.Helper()
	// The browser names the account the phone pinned, on every page.
	var phoneState struct {
		Account string `json:"account"`
	}
	if b, err := os.ReadFile(filepath.Join(phoneDir, "audit.json")); err != nil || json.Unmarshal(b, &phoneState) != nil || phoneState.Account == "" {
		t.Fatalf("the phone's audit state: %v", err)
	}
	if got.Account != phoneState.Account {
		t.Errorf("the browser's account pseudonym %q, the phone's %q", got.Account, phoneState.Account)
	}
	for i, p := range got.Checked {
		if len(p.Entries) > 0 && p.Account != got.Account {
			t.Errorf("page %d names account %q", i, p.Account)
		}
	}
	if got.Shown == nil || got.Shown.Upto != got.Checked[len(got.Checked)-1].Entries[len(got.Checked[len(got.Checked)-1].Entries)-1].Index {
		t.Fatalf("the shown state after a load: %+v", got.Shown)
	}
	opts := func(pinned string, shown *shownState, drop int64) string {
		o := map[string]any{"pinned": pinned, "shown": shown}
		if drop >= 0 {
			o["drop"] = drop
		}
		return js(o)
	}
	refusal := func(expr string) string { return run[string](t, bctx, "refusal("+expr+")") }

	// A second load, the same log: it verifies and keeps a state.
	again := run[accessLogResult](t, bctx, "accessLog("+js(token)+", "+opts(got.Account, got.Shown, -1)+")")
	if again.Account != got.Account || again.Shown == nil || again.Shown.Upto < got.Shown.Upto {
		t.Fatalf("a second load of the same log: account %q, shown %+v", again.Account, again.Shown)
	}

	// The staff read, shown before, left out: every page still verifies
	// (each entry's proof is its own), but the shown digest does not.
	msg := refusal("accessLog(" + js(token) + ", " + opts(got.Account, again.Shown, staffRead) + ")")
	if want := fmt.Sprintf("the entries shown up to entry %d are not those this device was shown before: some are missing or new", again.Shown.Upto); !strings.Contains(msg, want) {
		t.Errorf("a load without the staff read shown before: %q, want %q", msg, want)
	}
	// Without the kept state the same load passes: the digest is what
	// catches it.
	if msg := refusal("accessLog(" + js(token) + ", " + opts(got.Account, nil, staffRead) + ")"); msg != "" {
		t.Errorf("a first load without the staff read: %q", msg)
	}

	// Another account of the same server, with its own log entries.
	kdf := api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}
	otherDir := t.TempDir()
	other, err := client.Init(otherDir, client.Config{Server: serverURL, IMEI: "356938035643817", Phone: "+919812345670", Country: "IN"},
		client.WithKDF(kdf), client.WithKDFFloor(kdf))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := other.Signup(ctx, "quill@example.invalid", "Velvet-Harbor-2208!"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.SetConsent(ctx, candor.Contacts, true); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var otherSess struct {
		Token string `json:"token"`
	}
	if b, err := os.ReadFile(filepath.Join(otherDir, "session.json")); err != nil || json.Unmarshal(b, &otherSess) != nil || otherSess.Token == "" {
		t.Fatalf("the other phone's session token: %v", err)
	}
	req, _ := http.NewRequest("GET", serverURL+"/v1/account/access-log", nil)
	req.Header.Set("Authorization", "Bearer "+otherSess.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	otherPage, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the other account's log: %d", resp.StatusCode)
	}

	// Its page, genuine and signed, verifies as a page of its own account...
	alone := run[checkedPage](t, bctx, "candorLogin.checkEntries("+js(got.Key)+", "+js(string(otherPage))+")")
	if len(alone.Entries) == 0 || alone.Account == "" || alone.Account == got.Account {
		t.Fatalf("the other account's page: %d entries of %q", len(alone.Entries), alone.Account)
	}
	// ...and is refused as the owner's, with the owner's account pinned.
	if msg := refusal("candorLogin.checkEntries(" + js(got.Key) + ", " + js(string(otherPage)) + ", " + js(got.Account) + ")"); !strings.Contains(msg, fmt.Sprintf("entry %d is another account's", alone.Entries[0].Index)) {
		t.Errorf("another account's page for the pinned owner: %q, want a refusal naming another account's entry", msg)
	}
	// The whole other log served in the owner's place, pinned: refused.
	if msg := refusal("accessLog(" + js(otherSess.Token) + ", " + opts(got.Account, again.Shown, -1) + ")"); !strings.Contains(msg, "another account's") {
		t.Errorf("another account's log for the pinned owner: %q", msg)
	}
	// And a browser that lost the pin still has the shown digest.
	if msg := refusal("accessLog(" + js(otherSess.Token) + ", " + opts("", again.Shown, -1) + ")"); !strings.Contains(msg, "missing or new") {
		t.Errorf("another account's log after the owner's, no pin: %q", msg)
	}
	// Pages of two accounts in one load: the owner's first page pins the
	// account for the next, which is the other's.
	mixed := fmt.Sprintf(`(async () => {
		const first = await candorLogin.checkEntries(%s, %s);
		return candorLogin.checkEntries(%s, %s, first.account);
	})()`, js(got.Key), js(got.Pages[0]), js(got.Key), js(string(otherPage)))
	if msg := refusal(mixed); !strings.Contains(msg, "another account's") {
		t.Errorf("a load mixing two accounts' pages: %q", msg)
	}
}
