package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Every bad request gets a 4xx with a stable code and a sentence, never a
// 500 or a panic, and leaves nothing behind.
func TestHostileRequests(t *testing.T) {
	env := servertest.Start(t)
	alice, _ := signup(t, env, "IN")
	bob, bobSess := signup(t, env, "IN")
	epoch := alice.consent("notes", true)
	bob.consent("notes", true)

	good := api.Change{ID: candor.NewRecordID(), Data: []byte("hello")}
	var pushed api.PushResponse
	alice.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{good}}, &pushed)

	anon := &raw{t: t, url: env.URL}
	garbage := &raw{t: t, url: env.URL, token: "cdt_" + strings.Repeat("A", 43)}
	malformed := &raw{t: t, url: env.URL, token: "not a token"}

	big := bytes.Repeat([]byte("a"), api.MaxBodyBytes+1)
	pushJSON := func(changes ...api.Change) []byte {
		b, _ := json.Marshal(api.PushRequest{Epoch: epoch, Changes: changes})
		return b
	}
	tooMany := make([]api.Change, api.MaxChangesPerPush+1)
	for i := range tooMany {
		tooMany[i] = api.Change{ID: candor.NewRecordID(), Data: []byte("x")}
	}
	newID := candor.NewRecordID()

	cases := []struct {
		name   string
		client *raw
		method string
		path   string
		ctype  string
		body   []byte
		status int
		code   string
	}{
		{"malformed JSON", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": "AAAA"`), 400, "invalid"},
		{"not JSON at all", anon, "POST", "/v1/auth/salt", "application/json", []byte(`handle=1`), 400, "invalid"},
		{"empty body", anon, "POST", "/v1/accounts", "application/json", nil, 400, "invalid"},
		{"wrong type", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": 5}`), 400, "invalid"},
		{"array instead of object", anon, "POST", "/v1/auth/salt", "application/json", []byte(`[1,2]`), 400, "invalid"},
		{"unknown field", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": "", "email": "x@y"}`), 400, "invalid"},
		{"trailing data", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": ""} {}`), 400, "invalid"},
		{"bad base64", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": "%%%"}`), 400, "invalid"},
		{"short handle", anon, "POST", "/v1/auth/salt", "application/json", []byte(`{"handle": "AAAA"}`), 400, "invalid"},
		{"not a group element", anon, "POST", "/v1/auth/handle", "application/json", []byte(`{"blinded": "AAAA"}`), 400, "invalid"},
		{"form content type", anon, "POST", "/v1/auth/salt", "application/x-www-form-urlencoded", []byte(`handle=x`), 400, "invalid"},
		{"oversize body", alice, "POST", "/v1/records/notes", "application/json", big, 413, "too_large"},
		{"too many changes", alice, "POST", "/v1/records/notes", "application/json", pushJSON(tooMany...), 413, "too_large"},
		{"oversize record", alice, "POST", "/v1/records/notes", "application/json",
			pushJSON(api.Change{ID: newID, Data: bytes.Repeat([]byte("a"), api.MaxRecordBytes+1)}), 413, "too_large"},
		{"one bad change spoils the batch", alice, "POST", "/v1/records/notes", "application/json",
			pushJSON(api.Change{ID: newID, Data: []byte("fine")}, api.Change{ID: "rec_nope", Data: []byte("x")}), 400, "invalid"},
		{"duplicate id in a push", alice, "POST", "/v1/records/notes", "application/json",
			pushJSON(api.Change{ID: newID, Data: []byte("a")}, api.Change{ID: newID, Data: []byte("b")}), 400, "invalid"},
		{"negative base version", alice, "POST", "/v1/records/notes", "application/json",
			pushJSON(api.Change{ID: newID, BaseVersion: -1, Data: []byte("a")}), 400, "invalid"},
		{"deletion with data", alice, "POST", "/v1/records/notes", "application/json",
			pushJSON(api.Change{ID: good.ID, BaseVersion: 1, Deleted: true, Data: []byte("a")}), 400, "invalid"},
		{"empty push", alice, "POST", "/v1/records/notes", "application/json", pushJSON(), 400, "invalid"},
		{"unknown category", alice, "POST", "/v1/records/passwords", "application/json", pushJSON(good), 400, "invalid"},
		{"messaging is not a record category", alice, "GET", "/v1/records/messaging", "", nil, 400, "invalid"},
		{"consent off", alice, "POST", "/v1/records/contacts", "application/json", pushJSON(good), 403, "consent_required"},
		{"pull with consent off", alice, "GET", "/v1/records/contacts", "", nil, 403, "consent_required"},
		{"stale epoch", alice, "POST", "/v1/records/notes", "application/json",
			func() []byte {
				b, _ := json.Marshal(api.PushRequest{Epoch: epoch + 99, Changes: []api.Change{{ID: newID, Data: []byte("a")}}})
				return b
			}(), 409, "conflict"},
		{"negative cursor", alice, "GET", "/v1/records/notes?since=-1", "", nil, 400, "invalid"},
		{"cursor not a number", alice, "GET", "/v1/records/notes?since=abc", "", nil, 400, "invalid"},
		{"limit too large", alice, "GET", "/v1/records/notes?limit=100000", "", nil, 400, "invalid"},
		{"no token", anon, "GET", "/v1/account", "", nil, 401, "unauthenticated"},
		{"garbage token", garbage, "GET", "/v1/account", "", nil, 401, "unauthenticated"},
		{"malformed token", malformed, "GET", "/v1/records/notes", "", nil, 401, "unauthenticated"},
		{"another account's device", alice, "DELETE", "/v1/devices/" + bobSess.Device, "", nil, 404, "not_found"},
		{"unknown device", alice, "DELETE", "/v1/devices/dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", nil, 404, "not_found"},
		{"bad consent body", alice, "PUT", "/v1/consents/notes", "application/json", []byte(`{"on": "yes"}`), 400, "invalid"},
		{"unknown consent category", alice, "PUT", "/v1/consents/location", "application/json", []byte(`{"on": true}`), 400, "invalid"},
		{"unknown endpoint", alice, "GET", "/v1/everything", "", nil, 404, "not_found"},
		{"wrong method", alice, "PATCH", "/v1/account", "", nil, 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.client.t = t
			a := tc.client.send(tc.method, tc.path, tc.ctype, tc.body)
			e := a.error()
			if a.status != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %q (%s), want %d %q", a.status, e.Code, e.Message, tc.status, tc.code)
			}
			if e.Message == "" || strings.HasSuffix(e.Message, ".") || e.Message != strings.TrimSpace(e.Message) {
				t.Fatalf("message %q: want a sentence, lowercase, no trailing period", e.Message)
			}
		})
	}
	alice.t, bob.t = t, t

	// A 405 says which methods the endpoint takes.
	req, _ := http.NewRequest("PATCH", env.URL+"/v1/account", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("405 Allow = %q", resp.Header.Get("Allow"))
	}

	// Nothing of the refused pushes was stored: alice has exactly her one
	// record, and bob sees none of hers.
	var feed api.Feed
	alice.must("GET", "/v1/records/notes", nil, &feed)
	if len(feed.Records) != 1 || feed.Records[0].ID != good.ID {
		t.Fatalf("alice's notes after hostile pushes: %+v", feed.Records)
	}
	bob.must("GET", "/v1/records/notes", nil, &feed)
	if len(feed.Records) != 0 {
		t.Fatalf("bob sees %d records of alice's", len(feed.Records))
	}
	// Bob naming alice's record id edits nothing of hers: it is a conflict
	// in his own (empty) space and reveals no data.
	bob.must("POST", "/v1/records/notes", api.PushRequest{Epoch: bob.consent("notes", true),
		Changes: []api.Change{{ID: good.ID, BaseVersion: 1, Data: []byte("bob was here")}}}, &pushed)
	if r := pushed.Results[0]; r.Status != api.Conflict || (r.Current != nil && len(r.Current.Data) > 0) {
		t.Fatalf("bob editing alice's record id: %+v", r)
	}
	alice.must("GET", "/v1/records/notes", nil, &feed)
	if string(feed.Records[0].Data) != "hello" {
		t.Fatalf("alice's record changed: %q", feed.Records[0].Data)
	}
	if logs := env.Logs.String(); strings.Contains(logs, `"status":500`) || strings.Contains(logs, "panic") {
		t.Fatalf("server logged a 500 or a panic:\n%s", logs)
	}
}

// Sessions expire, and a revoked session is refused at once.
func TestSessionExpiryAndRevocation(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	cfg := server.Config{}
	cfg.Account = servertest.FastAccounts
	cfg.Account.Now = clock
	cfg.Account.SessionTTL = time.Hour
	env := servertest.StartWith(t, cfg)

	r, _ := signup(t, env, "SG")
	r.must("GET", "/v1/account", nil, nil)
	now = now.Add(time.Hour + time.Second)
	if a := r.call("GET", "/v1/account", nil, nil); a.status != 401 || !strings.Contains(a.error().Message, "expired") {
		t.Fatalf("expired session: %d %s", a.status, a.body)
	}

	r2, _ := signup(t, env, "SG")
	r2.must("DELETE", "/v1/sessions/current", nil, nil)
	if a := r2.call("GET", "/v1/account", nil, nil); a.status != 401 {
		t.Fatalf("revoked session: %d %s", a.status, a.body)
	}
}

// Failed logins are throttled per handle; the right key is refused too
// while locked, and other handles are unaffected.
func TestLoginThrottling(t *testing.T) {
	env := servertest.Start(t)
	r := &raw{t: t, url: env.URL}
	handle := handleOf(t, r, "throttle@example.invalid")
	key := randomBytes(32)
	var s api.Session
	r.must("POST", "/v1/accounts", api.SignupRequest{Handle: handle, Salt: randomBytes(16), KDF: testKDF,
		AuthKey: key, Country: "US", Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &s)

	login := func(k []byte) answer {
		return r.call("POST", "/v1/sessions", api.LoginRequest{Handle: handle, AuthKey: k, Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, nil)
	}
	if a := login(key); a.status != 201 {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	for i := range 5 {
		if a := login(randomBytes(32)); a.status != 401 {
			t.Fatalf("wrong key %d: %d %s", i, a.status, a.body)
		}
	}
	a := login(key)
	if a.status != 429 || a.error().Code != "rate_limited" {
		t.Fatalf("locked handle with right key: %d %s", a.status, a.body)
	}
	// The salt endpoint does not tell unknown from known handles.
	var known, unknown, again api.SaltResponse
	r.must("POST", "/v1/auth/salt", api.SaltRequest{Handle: handle}, &known)
	other := handleOf(t, r, "nobody@example.invalid")
	r.must("POST", "/v1/auth/salt", api.SaltRequest{Handle: other}, &unknown)
	r.must("POST", "/v1/auth/salt", api.SaltRequest{Handle: other}, &again)
	if len(unknown.Salt) != len(known.Salt) || !bytes.Equal(unknown.Salt, again.Salt) {
		t.Fatalf("fake salt: %x then %x (real one is %d bytes)", unknown.Salt, again.Salt, len(known.Salt))
	}
	// Wrong credentials and unknown handles get the same answer.
	u := r.call("POST", "/v1/sessions", api.LoginRequest{Handle: other, AuthKey: key, Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, nil)
	if u.status != 401 || u.error().Message != "wrong email or password" {
		t.Fatalf("unknown handle: %d %s", u.status, u.body)
	}
}

// The sign-in endpoints are limited per client address, so handles and
// salts cannot be harvested at speed.
func TestSignInRateLimit(t *testing.T) {
	cfg := server.Config{}
	cfg.HTTP.AuthPerMinute, cfg.HTTP.AuthBurst = 60, 3
	env := servertest.StartWith(t, cfg)
	r := &raw{t: t, url: env.URL}
	body, _ := json.Marshal(api.SaltRequest{Handle: randomBytes(64)})
	for i := range 3 {
		if a := r.send("POST", "/v1/auth/salt", "application/json", body); a.status != 200 {
			t.Fatalf("request %d: %d %s", i, a.status, a.body)
		}
	}
	req, _ := http.NewRequest("POST", env.URL+"/v1/auth/salt", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
