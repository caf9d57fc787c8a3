package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/staff"
)

const consoleOrigin = "https://console.candor.test"

// console is a production server with passkeys on, its clock movable,
// an engineer, three approvers, and a phone with synced contacts.
type console struct {
	env                   *servertest.Env
	boot, eng, a1, a2, a3 *raw
	account               string
	phoneToken            string
	clock                 *atomic.Int64 // an offset added to the time, in ns
	shares                []string      // the custodians' shares, to unseal another instance
}

func newConsole(t *testing.T, pg bool) *console {
	t.Helper()
	clock := &atomic.Int64{}
	cfg := server.Config{Web: server.Web{Origin: consoleOrigin, Passkeys: staff.PasskeyConfig{MaxPerStaff: 4,
		Now: func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }}}}
	if pg {
		cfg.Postgres = servertest.Postgres(t)
	}
	env, init := ceremony(t, cfg)
	c := &console{env: env, boot: &raw{t: t, url: env.URL, token: init.StaffToken}, clock: clock, shares: init.Shares}
	add := func(name, roles string) *raw {
		var s api.StaffAdded
		c.boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: name, Roles: strings.Split(roles, ",")}, &s)
		return &raw{t: t, url: env.URL, token: s.Token}
	}
	c.eng, c.a1, c.a2, c.a3 = add("eng", "engineer"), add("ap1", "approver"), add("ap2", "approver"), add("ap3", "approver")

	dir := t.TempDir()
	phone, err := client.Init(dir, client.Config{Server: env.URL, IMEI: canaryIMEI, Phone: "+919812345678", Country: "IN"},
		client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	phone.Contacts().Add("Console "+canaryName, canaryPhone)
	if _, err := phone.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	phone.SetConsent(ctx, candor.Contacts, true)
	if _, err := phone.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := phone.Status()
	c.account = string(st.Account)
	b, err := os.ReadFile(filepath.Join(dir, "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	json.Unmarshal(b, &sess)
	c.phoneToken = sess.Token
	return c
}

func (c *console) request(t *testing.T) string {
	t.Helper()
	var r api.AccessRequest
	c.eng.must("POST", "/v1/access-requests", api.AccessRequestCreate{Account: c.account, Categories: []string{"contacts"},
		Reason: "ticket-4711 sync bug", Duration: "1h"}, &r)
	return r.ID
}

// register gives the staff member of token a passkey, with the token.
func (c *console) register(t *testing.T, who *raw) *authenticator {
	t.Helper()
	a := newAuthenticator(t, consoleOrigin)
	opts := who.send("POST", "/v1/staff/passkeys/options", "", nil)
	if opts.status != 200 {
		t.Fatalf("passkey options: %d %s", opts.status, opts.body)
	}
	got := who.send("POST", "/v1/staff/passkeys", "application/json", a.create(opts.body))
	if got.status != 201 {
		t.Fatalf("register a passkey: %d %s", got.status, got.body)
	}
	var added api.PasskeyAdded
	json.Unmarshal(got.body, &added)
	if added.ID != b64.EncodeToString(a.id) || added.Created.IsZero() {
		t.Fatalf("registered %+v, want id %s", added, b64.EncodeToString(a.id))
	}
	return a
}

// consolePage is the console page: its cookie, its CSRF value, and the
// headers a browser adds.
type consolePage struct {
	t      *testing.T
	url    string
	cookie string
	csrf   string
	origin string
}

type consoleReply struct {
	answer
	header http.Header
}

func (b *consolePage) do(method, path string, body []byte, header ...string) consoleReply {
	b.t.Helper()
	req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "candor_staff", Value: b.cookie})
	}
	if b.csrf != "" {
		req.Header.Set("X-Candor-CSRF", b.csrf)
	}
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return consoleReply{answer{resp.StatusCode, out}, resp.Header}
}

// signIn signs in with a passkey, as the console page does.
func (c *console) signIn(t *testing.T, a *authenticator) (*consolePage, api.StaffSession) {
	t.Helper()
	b := &consolePage{t: t, url: c.env.URL, origin: consoleOrigin}
	opts := b.do("POST", "/v1/staff/sessions/options", nil)
	if opts.status != 200 {
		t.Fatalf("sign-in options: %d %s", opts.status, opts.body)
	}
	if o := parseOptions(t, opts.body); len(o.PublicKey.AllowCredentials) != 0 {
		t.Fatal("sign-in options name credentials: discoverable credentials need none")
	}
	got := b.do("POST", "/v1/staff/sessions", a.get(opts.body, false))
	if got.status != 201 {
		t.Fatalf("sign in: %d %s", got.status, got.body)
	}
	var s api.StaffSession
	json.Unmarshal(got.body, &s)
	for _, ck := range (&http.Response{Header: got.header}).Cookies() {
		if ck.Name == "candor_staff" {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge < 8*3600-60 || ck.MaxAge > 8*3600 {
				t.Fatalf("the console cookie is %+v: want HttpOnly, SameSite=Strict, Path=/, 8 h", ck)
			}
			b.cookie = ck.Value
		}
	}
	if !strings.HasPrefix(b.cookie, "cst_") {
		t.Fatalf("no candor_staff cookie in %v", got.header)
	}
	if s.CSRF != csrfRule(b.cookie) {
		t.Fatalf("csrf %q is not the session's", s.CSRF)
	}
	b.csrf = s.CSRF
	return b, s
}

// approve approves request id from the console with a fresh assertion by a.
func (b *consolePage) approve(a *authenticator, id string) consoleReply {
	b.t.Helper()
	opts := b.do("POST", "/v1/access-requests/"+id+"/approve/options", nil)
	if opts.status != 200 {
		b.t.Fatalf("approve options: %d %s", opts.status, opts.body)
	}
	return b.do("POST", "/v1/access-requests/"+id+"/approve", assertionBody(a.get(opts.body, false)))
}

func assertionBody(assertion []byte) []byte {
	b, _ := json.Marshal(api.ApproveRequest{Assertion: assertion})
	return b
}

func wantStatus(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || code != "" && a.error().Code != code {
		t.Fatalf("%s: %d %s, want %d %s", what, a.status, a.body, status, code)
	}
}

// The staff console: a passkey registered with the staff token signs in to
// a cookie session that every staff route accepts, under CSRF and Origin
// rules; approving from it needs a fresh assertion bound to the staff
// member and the request, used once.
func TestStaffConsolePasskeys(t *testing.T) { testStaffConsolePasskeys(t, false) }

// The same on PostgreSQL (skipped without CANDOR_TEST_POSTGRES).
func TestStaffConsolePasskeysPostgres(t *testing.T) { testStaffConsolePasskeys(t, true) }

func testStaffConsolePasskeys(t *testing.T, pg bool) {
	c := newConsole(t, pg)
	anon := &raw{t: t, url: c.env.URL}

	// Registration needs a staff token.
	wantStatus(t, "passkey options without a token", anon.send("POST", "/v1/staff/passkeys/options", "", nil), 401, "unauthenticated")
	wantStatus(t, "passkey without a token", anon.send("POST", "/v1/staff/passkeys", "application/json", []byte(`{"id":"x","rawId":"x","type":"public-key","response":{}}`)), 401, "unauthenticated")
	k1, k2, kEng := c.register(t, c.a1), c.register(t, c.a2), c.register(t, c.eng)

	// A registration answer is used once, and only by whom it was issued to.
	opts := c.a3.send("POST", "/v1/staff/passkeys/options", "", nil)
	stolen := newAuthenticator(t, consoleOrigin).create(opts.body)
	wantStatus(t, "another member answering a3's registration", c.a2.send("POST", "/v1/staff/passkeys", "application/json", stolen), 403, "forbidden")
	wantStatus(t, "a3 answering after the challenge was spent", c.a3.send("POST", "/v1/staff/passkeys", "application/json", stolen), 403, "forbidden")

	b1, s1 := c.signIn(t, k1)
	if s1.Name != "ap1" || len(s1.Roles) != 1 || s1.Roles[0] != "approver" || time.Until(s1.ExpiresAt) < 7*time.Hour {
		t.Fatalf("session %+v", s1)
	}
	cur := b1.do("GET", "/v1/staff/sessions/current", nil)
	var got api.StaffSession
	json.Unmarshal(cur.body, &got)
	if cur.status != 200 || got.ID != s1.ID || got.CSRF != s1.CSRF {
		t.Fatalf("current session: %d %s", cur.status, cur.body)
	}
	// The cookie registers no passkey: a thief could add their own.
	wantStatus(t, "passkey options with the cookie", b1.do("POST", "/v1/staff/passkeys/options", nil).answer, 401, "unauthenticated")
	// A Bearer header never takes the console's token, nor the cookie a staff token.
	wantStatus(t, "the session token as Bearer", (&raw{t: t, url: c.env.URL, token: b1.cookie}).send("GET", "/v1/access-requests", "", nil), 401, "unauthenticated")
	wantStatus(t, "a staff token as cookie", (&consolePage{t: t, url: c.env.URL, cookie: c.a1.token}).do("GET", "/v1/access-requests", nil).answer, 401, "unauthenticated")

	idA, idB := c.request(t), c.request(t)
	var list api.AccessRequests
	l := b1.do("GET", "/v1/access-requests", nil)
	json.Unmarshal(l.body, &list)
	if l.status != 200 || len(list.Requests) != 2 || list.Requests[0].ID != idB || list.Requests[1].ID != idA {
		t.Fatalf("console list: %d %s", l.status, l.body)
	}

	// CSRF and Origin.
	noCSRF := *b1
	noCSRF.csrf = ""
	wantStatus(t, "a change without CSRF", noCSRF.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil).answer, 403, "forbidden")
	badCSRF := *b1
	badCSRF.csrf = csrfRule(b1.cookie + "x")
	wantStatus(t, "a change with a wrong CSRF", badCSRF.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil).answer, 403, "forbidden")
	foreign := *b1
	foreign.origin = "https://evil.example"
	wantStatus(t, "a change from another site", foreign.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil).answer, 403, "forbidden")
	wantStatus(t, "a read from another site", foreign.do("GET", "/v1/access-requests", nil).answer, 403, "forbidden")
	wantStatus(t, "a sign-in from another site", foreign.do("POST", "/v1/staff/sessions/options", nil).answer, 403, "forbidden")
	// The rules of every cookie of the server hold for the console's: a
	// page another site made cross-site is refused whatever its Origin,
	// and a second cookie of the name (tossed by a sibling domain, to
	// make the page act in a session of the attacker's) is refused.
	wantStatus(t, "a cross-site fetch", b1.do("GET", "/v1/access-requests", nil, "Sec-Fetch-Site", "cross-site").answer, 403, "forbidden")
	wantStatus(t, "two console cookies", b1.do("GET", "/v1/access-requests", nil, "Cookie", "candor_staff="+b1.cookie+"; candor_staff=cst_tossed").answer, 401, "unauthenticated")
	if a := noCSRF.do("GET", "/v1/access-requests", nil); a.status != 200 {
		t.Fatalf("a read needs no CSRF: %d %s", a.status, a.body)
	}

	// A console session makes no staff identity (its token would outlive
	// the session and approve without a passkey).
	wantStatus(t, "adding staff with the cookie", b1.do("POST", "/v1/staff", []byte(`{"name":"mallory","roles":["approver"]}`)).answer, 401, "unauthenticated")

	// A passkey that only says someone touched it (no PIN, no
	// fingerprint: user verification) neither signs in nor approves.
	touched := *k1
	touched.presenceOnly = true
	so := (&consolePage{t: t, url: c.env.URL, origin: consoleOrigin}).do("POST", "/v1/staff/sessions/options", nil)
	wantStatus(t, "a sign-in without user verification", (&consolePage{t: t, url: c.env.URL, origin: consoleOrigin}).do("POST", "/v1/staff/sessions", touched.get(so.body, false)).answer, 401, "unauthenticated")
	k1.counter = touched.counter
	opts0 := b1.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil)
	wantStatus(t, "an approval without user verification", b1.do("POST", "/v1/access-requests/"+idA+"/approve", assertionBody(touched.get(opts0.body, false))).answer, 403, "forbidden")
	k1.counter = touched.counter

	// The cookie alone does not approve.
	wantStatus(t, "approve with the cookie, no body", b1.do("POST", "/v1/access-requests/"+idA+"/approve", nil).answer, 403, "forbidden")
	wantStatus(t, "approve with the cookie, no assertion", b1.do("POST", "/v1/access-requests/"+idA+"/approve", []byte(`{}`)).answer, 403, "forbidden")

	// An assertion for request A does not approve B.
	optsA := b1.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil)
	if o := parseOptions(t, optsA.body); len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64.EncodeToString(k1.id) {
		t.Fatalf("approve options allow %s, want ap1's passkey alone", optsA.body)
	}
	forA := k1.get(optsA.body, false)
	wantStatus(t, "an assertion for A used on B", b1.do("POST", "/v1/access-requests/"+idB+"/approve", assertionBody(forA)).answer, 403, "forbidden")

	// A fresh assertion for A approves A, once.
	ok := b1.approve(k1, idA)
	var ar api.AccessRequest
	json.Unmarshal(ok.body, &ar)
	if ok.status != 200 || len(ar.Approvals) != 1 || ar.Approvals[0].Method != "passkey" {
		t.Fatalf("console approval: %d %s", ok.status, ok.body)
	}
	optsA = b1.do("POST", "/v1/access-requests/"+idA+"/approve/options", nil)
	replayed := k1.get(optsA.body, false)
	b1.do("POST", "/v1/access-requests/"+idA+"/approve", assertionBody(replayed)) // 409: approved already
	wantStatus(t, "a replayed assertion", b1.do("POST", "/v1/access-requests/"+idB+"/approve", assertionBody(replayed)).answer, 403, "forbidden")

	// Another member's passkey does not answer ap2's challenge.
	b2, _ := c.signIn(t, k2)
	optsB := b2.do("POST", "/v1/access-requests/"+idB+"/approve/options", nil)
	wantStatus(t, "ap1's passkey answering ap2's challenge", b2.do("POST", "/v1/access-requests/"+idB+"/approve", assertionBody(k1.get(optsB.body, true))).answer, 403, "forbidden")
	// Nor ap1's session ap2's challenge.
	optsB = b2.do("POST", "/v1/access-requests/"+idB+"/approve/options", nil)
	wantStatus(t, "ap1 answering ap2's challenge", b1.do("POST", "/v1/access-requests/"+idB+"/approve", assertionBody(k1.get(optsB.body, true))).answer, 403, "forbidden")

	// A staff token approves without an assertion, as before.
	var byToken api.AccessRequest
	c.a3.must("POST", "/v1/access-requests/"+idA+"/approve", nil, &byToken)
	if len(byToken.Approvals) != 2 || byToken.Approvals[1].Method != "token" || !byToken.Granted {
		t.Fatalf("token approval: %+v", byToken)
	}

	// The requester (an engineer) cannot approve, passkey or not.
	be, _ := c.signIn(t, kEng)
	wantStatus(t, "the requester's approve options", be.do("POST", "/v1/access-requests/"+idB+"/approve/options", nil).answer, 403, "forbidden")
	wantStatus(t, "the requester approving with the cookie", be.do("POST", "/v1/access-requests/"+idB+"/approve", assertionBody(kEng.get(optsB.body, true))).answer, 403, "forbidden")

	// The console's overview, for any role.
	var con api.Console
	cv := be.do("GET", "/v1/operator/console", nil)
	json.Unmarshal(cv.body, &con)
	if cv.status != 200 || len(con.Logs) == 0 || con.Logs[0].Name != "directory" || con.Logs[0].Size == 0 || con.Migrations == nil {
		t.Fatalf("console: %d %s", cv.status, cv.body)
	}
	c.boot.must("POST", "/v1/audit/verify", nil, nil)
	cv = be.do("GET", "/v1/operator/console", nil)
	json.Unmarshal(cv.body, &con)
	for _, l := range con.Logs {
		if l.Verified == nil || !l.Verified.OK {
			t.Fatalf("console after a verification: %s", cv.body)
		}
	}
	c.boot.must("POST", "/v1/operator/retention", nil, nil)
	cv = be.do("GET", "/v1/operator/console", nil)
	con = api.Console{}
	json.Unmarshal(cv.body, &con)
	if con.Retention.LastRun == nil || con.Retention.Running || con.Logs[0].Checkpoint == nil { // the upkeep runs it too
		t.Fatalf("console after a retention run: %s", cv.body)
	}

	// The directory's log holds the sign-ins and how each approval was
	// made, by staff id, never a name.
	var entries []map[string]any
	if !pg {
		entries = directoryEvents(t, c.env)
	}
	count := func(action, actor, method string) int {
		n := 0
		for _, e := range entries {
			if e["action"] == action && e["actor"] == actor && (method == "" || e["method"] == method) {
				n++
			}
		}
		return n
	}
	if !pg && (count("staff.sign-in", "staff:"+s1.ID, "passkey") != 1 || count("staff.passkey-add", "staff:"+s1.ID, "") != 1 ||
		count("grant.approve", "staff:"+s1.ID, "passkey") < 1) {
		t.Fatalf("the directory log lacks ap1's passkey, sign-in or approval: %v", entries)
	}
	// The names as words: an id is base32 and may hold "ap2" inside it.
	staffName := regexp.MustCompile(`\bap[12]\b`)
	for _, e := range entries {
		for k, v := range e {
			if s, ok := v.(string); ok && staffName.MatchString(s) {
				t.Fatalf("a staff name in the directory log (%s): %v", k, e)
			}
		}
	}

	// Sign-out clears the cookie and ends the session.
	out := b2.do("DELETE", "/v1/staff/sessions/current", nil)
	if out.status != 204 || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("sign out: %d %v", out.status, out.header)
	}
	wantStatus(t, "a signed-out session", b2.do("GET", "/v1/staff/sessions/current", nil).answer, 401, "unauthenticated")

	// A revoked identity's sessions and passkeys stop at once.
	var members api.StaffList
	c.boot.must("GET", "/v1/staff", nil, &members)
	for _, m := range members.Staff {
		if m.Name == "ap1" {
			c.boot.must("DELETE", "/v1/staff/"+m.ID, nil, nil)
		}
	}
	wantStatus(t, "a revoked member's session", b1.do("GET", "/v1/access-requests", nil).answer, 401, "unauthenticated")
	signIn := &consolePage{t: t, url: c.env.URL}
	opts = signIn.do("POST", "/v1/staff/sessions/options", nil).answer
	wantStatus(t, "a revoked member's passkey", signIn.do("POST", "/v1/staff/sessions", k1.get(opts.body, false)).answer, 401, "unauthenticated")

	// A sign-in answer is used once.
	opts = signIn.do("POST", "/v1/staff/sessions/options", nil).answer
	again := k2.get(opts.body, false)
	if a := signIn.do("POST", "/v1/staff/sessions", again); a.status != 201 {
		t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	wantStatus(t, "a replayed sign-in", signIn.do("POST", "/v1/staff/sessions", again).answer, 401, "unauthenticated")
	// An unregistered passkey does not sign in.
	opts = signIn.do("POST", "/v1/staff/sessions/options", nil).answer
	stranger := newAuthenticator(t, consoleOrigin)
	stranger.user = []byte(s1.ID)
	wantStatus(t, "an unregistered passkey", signIn.do("POST", "/v1/staff/sessions", stranger.get(opts.body, false)).answer, 401, "unauthenticated")
	// Hostile answers: a clear 4xx, never a 500.
	wantStatus(t, "a huge sign-in answer", signIn.do("POST", "/v1/staff/sessions", bytes.Repeat([]byte("a"), 70<<10)).answer, 413, "too_large")
	wantStatus(t, "a garbage sign-in answer", signIn.do("POST", "/v1/staff/sessions", []byte(`{"id":1}`)).answer, 400, "invalid")
	wantStatus(t, "a garbage registration", c.a2.send("POST", "/v1/staff/passkeys", "application/json", []byte(`[]`)), 400, "invalid")
	b2again, _ := c.signIn(t, k2)
	wantStatus(t, "a garbage assertion", b2again.do("POST", "/v1/access-requests/"+idB+"/approve", []byte(`{"assertion":{"id":"x"}}`)).answer, 400, "invalid")
	wantStatus(t, "an unknown field", b2again.do("POST", "/v1/access-requests/"+idB+"/approve", []byte(`{"assertion":null,"x":1}`)).answer, 400, "invalid")
	// Nor one answering for another origin.
	opts = signIn.do("POST", "/v1/staff/sessions/options", nil).answer
	phish := *k2
	phish.origin = "https://candor-console.evil.example"
	wantStatus(t, "an assertion made for another origin", signIn.do("POST", "/v1/staff/sessions", phish.get(opts.body, false)).answer, 401, "unauthenticated")
}

// directoryEvents reads the directory's audit log as stored.
func directoryEvents(t *testing.T, env *servertest.Env) []map[string]any {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "directory.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT data FROM audit_directory_entries ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		var e map[string]any
		json.Unmarshal(b, &e)
		out = append(out, e)
	}
	return out
}

// A console session ends after 8 hours; waiting approvals are bounded per
// staff member.
func TestStaffConsoleExpiryAndBounds(t *testing.T) {
	c := newConsole(t, false)
	k := c.register(t, c.a1)
	b, _ := c.signIn(t, k)
	c.clock.Store(int64(8*time.Hour + time.Second))
	wantStatus(t, "an expired session", b.do("GET", "/v1/staff/sessions/current", nil).answer, 401, "unauthenticated")
	wantStatus(t, "an expired session's request", b.do("GET", "/v1/access-requests", nil).answer, 401, "unauthenticated")

	// An answer after the challenge's 5 minutes is refused.
	anon := &consolePage{t: t, url: c.env.URL}
	opts := anon.do("POST", "/v1/staff/sessions/options", nil)
	c.clock.Add(int64(5*time.Minute + time.Second))
	wantStatus(t, "an expired challenge", anon.do("POST", "/v1/staff/sessions", k.get(opts.body, false)).answer, 401, "unauthenticated")
	b, _ = c.signIn(t, k)

	// Per staff member (4 here).
	id := c.request(t)
	for range 4 {
		if a := b.do("POST", "/v1/access-requests/"+id+"/approve/options", nil); a.status != 200 {
			t.Fatalf("approve options: %d %s", a.status, a.body)
		}
	}
	full := b.do("POST", "/v1/access-requests/"+id+"/approve/options", nil)
	wantStatus(t, "a fifth waiting approval", full.answer, 429, "rate_limited")
	if full.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on a full pool of challenges")
	}
	c.clock.Add(int64(6 * time.Minute))
	if a := b.approve(k, id); a.status != 200 {
		t.Fatalf("approve after the challenges expired: %d %s", a.status, a.body)
	}
}

// withChallenge is sign-in options with their challenge replaced, as an
// attacker's own client would hand them to an authenticator.
func withChallenge(t *testing.T, body []byte, challenge string) []byte {
	t.Helper()
	o := parseOptions(t, body)
	return bytes.Replace(body, []byte(`"`+o.PublicKey.Challenge+`"`), []byte(`"`+challenge+`"`), 1)
}

// countRows counts the rows of a table of the directory (SQLite).
func countRows(t *testing.T, env *servertest.Env, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "directory.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Sign-in challenges are sealed by the server and stored only once a
// registered passkey answered one: strangers asking for thousands deny
// nobody a sign-in, and an answer is still used once, to a challenge this
// server made, before it expires; a copied authenticator is refused.
func TestStaffConsoleSignInChallenges(t *testing.T) {
	c := newConsole(t, false)
	k := c.register(t, c.a1)
	anon := &consolePage{t: t, url: c.env.URL, origin: consoleOrigin}

	// Thousands of anonymous sign-ins started (the per-address limit is
	// off here, as behind many addresses): nothing is stored, and a real
	// staff member still signs in.
	var first []byte
	for i := range 3000 {
		a := anon.do("POST", "/v1/staff/sessions/options", nil)
		if a.status != 200 {
			t.Fatalf("anonymous sign-in options %d: %d %s", i, a.status, a.body)
		}
		if first == nil {
			first = a.body
		}
	}
	if n := countRows(t, c.env, "webauthn_challenges") + countRows(t, c.env, "webauthn_spent_challenges"); n != 0 {
		t.Fatalf("anonymous sign-in options stored %d rows", n)
	}
	c.signIn(t, k)
	// An answer to one of the strangers' challenges works too (it was the
	// server's), once: only then is it stored.
	answer := k.get(first, false)
	if a := anon.do("POST", "/v1/staff/sessions", answer); a.status != 201 {
		t.Fatalf("sign in with an early challenge: %d %s", a.status, a.body)
	}
	wantStatus(t, "a replayed sign-in", anon.do("POST", "/v1/staff/sessions", answer).answer, 401, "unauthenticated")
	// Nor signed again by the passkey: the challenge is spent, whoever answers.
	wantStatus(t, "a spent challenge signed again", anon.do("POST", "/v1/staff/sessions", k.get(first, false)).answer, 401, "unauthenticated")
	if n := countRows(t, c.env, "webauthn_spent_challenges"); n != 2 {
		t.Fatalf("%d spent challenges stored, want the 2 answered", n)
	}

	// Forged challenges, signed by the real passkey: made up, the expiry
	// edited, the MAC edited, and a challenge of another server.
	opts := anon.do("POST", "/v1/staff/sessions/options", nil).body
	sealed, err := b64.DecodeString(parseOptions(t, opts).PublicKey.Challenge)
	if err != nil || len(sealed) < 25 {
		t.Fatalf("challenge %x: %v", sealed, err)
	}
	madeUp := make([]byte, len(sealed))
	rand.Read(madeUp)
	madeUp[0] = sealed[0]
	wantStatus(t, "a made-up challenge", anon.do("POST", "/v1/staff/sessions", k.get(withChallenge(t, opts, b64.EncodeToString(madeUp)), false)).answer, 401, "unauthenticated")
	earlier := bytes.Clone(sealed)
	// (a minute sooner: still within what the server issues, so only the
	// MAC tells)
	binary.BigEndian.PutUint64(earlier[17:25], binary.BigEndian.Uint64(sealed[17:25])-uint64(time.Minute/time.Millisecond))
	wantStatus(t, "an edited expiry", anon.do("POST", "/v1/staff/sessions", k.get(withChallenge(t, opts, b64.EncodeToString(earlier)), false)).answer, 401, "unauthenticated")
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	wantStatus(t, "an edited MAC", anon.do("POST", "/v1/staff/sessions", k.get(withChallenge(t, opts, b64.EncodeToString(flipped)), false)).answer, 401, "unauthenticated")
	wantStatus(t, "a sixteen-byte challenge", anon.do("POST", "/v1/staff/sessions", k.get(withChallenge(t, opts, b64.EncodeToString(madeUp[:16])), false)).answer, 401, "unauthenticated")
	other, _ := ceremony(t, server.Config{Web: server.Web{Origin: consoleOrigin}})
	theirs := (&consolePage{t: t, url: other.URL, origin: consoleOrigin}).do("POST", "/v1/staff/sessions/options", nil)
	if theirs.status != 200 {
		t.Fatalf("the other server's options: %d %s", theirs.status, theirs.body)
	}
	wantStatus(t, "another server's challenge", anon.do("POST", "/v1/staff/sessions", k.get(theirs.body, false)).answer, 401, "unauthenticated")
	// The untouched one still works, before it expires; not after.
	if a := anon.do("POST", "/v1/staff/sessions", k.get(opts, false)); a.status != 201 {
		t.Fatalf("sign in: %d %s", a.status, a.body)
	}
	opts = anon.do("POST", "/v1/staff/sessions/options", nil).body
	c.clock.Add(int64(5 * time.Minute))
	wantStatus(t, "an expired challenge", anon.do("POST", "/v1/staff/sessions", k.get(opts, false)).answer, 401, "unauthenticated")

	// Another instance sharing the directory: sealed, it issues and takes
	// no sign-in challenge; unsealed, it takes this one's challenges and
	// they are spent for both.
	c.clock.Store(0) // both on the real clock
	two := servertest.StartProduction(t, server.Config{Data: c.env.Data, Web: server.Web{Origin: consoleOrigin}})
	anon2 := &consolePage{t: t, url: two.URL, origin: consoleOrigin}
	wantStatus(t, "sign-in options while sealed", anon2.do("POST", "/v1/staff/sessions/options", nil).answer, 503, "sealed")
	opts = anon.do("POST", "/v1/staff/sessions/options", nil).body
	wantStatus(t, "a sign-in while sealed", anon2.do("POST", "/v1/staff/sessions", k.get(opts, false)).answer, 503, "sealed")
	for _, sh := range c.shares {
		(&raw{t: t, url: two.URL}).must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: sh}, nil)
	}
	answer = k.get(opts, false)
	if a := anon2.do("POST", "/v1/staff/sessions", answer); a.status != 201 {
		t.Fatalf("sign in on another instance: %d %s", a.status, a.body)
	}
	wantStatus(t, "a challenge spent on the other instance", anon.do("POST", "/v1/staff/sessions", k.get(opts, false)).answer, 401, "unauthenticated")
	opts = anon2.do("POST", "/v1/staff/sessions/options", nil).body
	if a := anon.do("POST", "/v1/staff/sessions", k.get(opts, false)); a.status != 201 {
		t.Fatalf("sign in with the other instance's challenge: %d %s", a.status, a.body)
	}

	// A cloned authenticator: its counter does not go up past the
	// original's, so its sign-ins and approvals are refused; the
	// original's are not.
	clone := *k
	b, _ := c.signIn(t, k)
	opts = anon.do("POST", "/v1/staff/sessions/options", nil).body
	wantStatus(t, "a clone's sign-in (same counter)", anon.do("POST", "/v1/staff/sessions", clone.get(opts, false)).answer, 401, "unauthenticated")
	clone.counter = 0
	opts = anon.do("POST", "/v1/staff/sessions/options", nil).body
	wantStatus(t, "a clone's sign-in (counter back)", anon.do("POST", "/v1/staff/sessions", clone.get(opts, false)).answer, 401, "unauthenticated")
	id := c.request(t)
	clone.counter = k.counter - 1
	wantStatus(t, "a clone's approval", b.approve(&clone, id).answer, 403, "forbidden")
	if a := b.approve(k, id); a.status != 200 {
		t.Fatalf("the original's approval: %d %s", a.status, a.body)
	}
	c.signIn(t, k)
}

// The owner refuses a request on their account from a device session: it
// is revoked, marked refused_by_owner, in the owner's access log.
func TestOwnerRefusesAccessRequest(t *testing.T) {
	c := newConsole(t, false)
	id := c.request(t)
	owner := &raw{t: t, url: c.env.URL, token: c.phoneToken}
	wantStatus(t, "refusing an unknown request", owner.send("POST", "/v1/account/access-requests/req_"+strings.Repeat("A", 26)+"/refuse", "", nil), 404, "not_found")
	wantStatus(t, "refusing without a session", (&raw{t: t, url: c.env.URL}).send("POST", "/v1/account/access-requests/"+id+"/refuse", "", nil), 401, "unauthenticated")
	var ar api.AccessRequest
	owner.must("POST", "/v1/account/access-requests/"+id+"/refuse", nil, &ar)
	if !ar.RefusedByOwner || ar.Revoked == nil || ar.Granted {
		t.Fatalf("refused: %+v", ar)
	}
	wantStatus(t, "approving a refused request", c.a1.send("POST", "/v1/access-requests/"+id+"/approve", "", nil), 403, "forbidden")
	var st api.AccessRequest
	c.eng.must("GET", "/v1/access-requests/"+id, nil, &st)
	if !st.RefusedByOwner || st.Granted {
		t.Fatalf("after refusal: %+v", st)
	}
	var log api.AccessLog
	owner.must("GET", "/v1/account/access-log", nil, &log)
	found := false
	for _, e := range log.Entries {
		found = found || strings.Contains(e.Event, `"action":"grant.owner-refuse"`)
	}
	if !found {
		t.Fatal("the refusal is not in the owner's access log")
	}
}

// --dev binds passkeys to the listen address, a loopback address written
// localhost (browsers refuse an IP address); an IP origin given outright
// is refused at start.
func TestWebOrigin(t *testing.T) {
	ctx := context.Background()
	s, err := server.New(ctx, server.Config{Dev: true, Addr: "127.0.0.1:8080", Data: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatalf("--dev on 127.0.0.1: %v", err)
	}
	s.Close()
	if s, err := server.New(ctx, server.Config{Dev: true, Data: t.TempDir(), Web: server.Web{Origin: "http://10.0.0.7:8080"}, Logger: quiet()}); err == nil {
		s.Close()
		t.Fatal("an IP address as web.origin was accepted")
	}
}
