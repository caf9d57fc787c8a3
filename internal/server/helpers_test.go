package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/retention"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// httpClient keeps a connection per concurrent caller alive, as phones
// each keep theirs (http.DefaultClient keeps only two idle per host).
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

// raw is a minimal protocol client that speaks the wire format directly,
// independent of the device SDK, so hostile requests can be shaped freely.
type raw struct {
	t     testing.TB
	url   string
	token string
}

type answer struct {
	status int
	body   []byte
}

func (a answer) error() api.Error {
	var e api.ErrorResponse
	json.Unmarshal(a.body, &e)
	return e.Error
}

func (r *raw) send(method, path, contentType string, body []byte) answer {
	r.t.Helper()
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b}
}

// call sends v as JSON (nil: no body) and decodes a 2xx answer into out.
func (r *raw) call(method, path string, v, out any) answer {
	r.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	a := r.send(method, path, "application/json", body)
	if out != nil && a.status/100 == 2 {
		if err := json.Unmarshal(a.body, out); err != nil {
			r.t.Fatalf("%s %s: decode %s: %v", method, path, a.body, err)
		}
	}
	return a
}

func (r *raw) must(method, path string, v, out any) {
	r.t.Helper()
	if a := r.call(method, path, v, out); a.status/100 != 2 {
		r.t.Fatalf("%s %s: %d %s", method, path, a.status, a.body)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// handleOf runs the login-handle OPRF for email against the server.
func handleOf(t testing.TB, r *raw, email string) []byte {
	t.Helper()
	c := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := c.Blind([][]byte{[]byte("candor/login-handle/v1\x00" + email)})
	if err != nil {
		t.Fatal(err)
	}
	blinded, _ := req.Elements[0].MarshalBinaryCompress()
	var resp api.HandleResponse
	r.must("POST", "/v1/auth/handle", api.HandleRequest{Blinded: blinded}, &resp)
	e := oprf.SuiteRistretto255.Group().NewElement()
	if err := e.UnmarshalBinary(resp.Evaluated); err != nil {
		t.Fatal(err)
	}
	out, err := c.Finalize(fin, &oprf.Evaluation{Elements: []group.Element{e}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

var testKDF = api.KDF{Time: 1, MemoryKiB: 8, Threads: 1}

// signup creates an account with random credentials and returns a client
// holding its session token.
func signup(t testing.TB, env *servertest.Env, country string) (*raw, api.Session) {
	t.Helper()
	r := &raw{t: t, url: env.URL}
	var s api.Session
	r.must("POST", "/v1/accounts", api.SignupRequest{
		Handle: handleOf(t, r, "someone-"+string(randomBytes(4))+"@example.invalid"), Salt: randomBytes(16), KDF: testKDF,
		AuthKey: randomBytes(32), Country: country, Device: api.DeviceInfo{Pseudonym: randomBytes(32)},
	}, &s)
	r.token = s.Token
	return r, s
}

// consent turns a category on or off and returns its epoch.
func (r *raw) consent(category string, on bool) int64 {
	r.t.Helper()
	var c api.Consent
	r.must("PUT", "/v1/consents/"+category, api.ConsentRequest{On: on}, &c)
	return c.Epoch
}

// ceremony starts a production server and holds the key ceremony (2 of 2):
// the server is unsealed; the answer holds the shares and the bootstrap
// staff token.
func ceremony(t *testing.T, cfg server.Config) (*servertest.Env, api.InitResponse) {
	t.Helper()
	env := servertest.StartProduction(t, cfg)
	var init api.InitResponse
	(&raw{t: t, url: env.URL}).must("POST", "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}, &init)
	return env, init
}

// staffServer is ceremony, returning the bootstrap identity (which may
// publish content, run retention and add staff).
func staffServer(t *testing.T, cfg server.Config) (*servertest.Env, *raw) {
	t.Helper()
	env, init := ceremony(t, cfg)
	return env, &raw{t: t, url: env.URL, token: init.StaffToken}
}

// addAdmin makes an administrator with the bootstrap identity.
func addAdmin(t *testing.T, env *servertest.Env, boot *raw) *raw {
	t.Helper()
	var adm api.StaffAdded
	boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: "adm", Roles: []string{"admin"}}, &adm)
	return &raw{t: t, url: env.URL, token: adm.Token}
}

// shortRetention is the default regions, with region "in" keeping deleted
// items a millisecond: its tombstones go at the next retention run.
func shortRetention() server.Config {
	d := region.Defaults()
	for i := range d.Regions {
		if d.Regions[i].ID == "in" {
			d.Regions[i].Retention = retention.Rules{DeletedItems: retention.Duration(time.Millisecond)}
		}
	}
	return server.Config{Regions: d.Regions, FallbackRegion: d.Fallback}
}

// signedUp is a new phone (IMEI imei) signed up as the canary account with
// the given categories on.
func signedUp(t *testing.T, env *servertest.Env, imei string, cats ...candor.Category) *client.Client {
	t.Helper()
	c := newPhone(t, env, imei)
	if _, err := c.Signup(context.Background(), canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats {
		if _, err := c.SetConsent(context.Background(), cat, true); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// loggedIn is a new phone (IMEI imei) logged into the canary account.
func loggedIn(t *testing.T, env *servertest.Env, imei string) *client.Client {
	t.Helper()
	c := newPhone(t, env, imei)
	if _, err := c.Login(context.Background(), canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

// mustSync syncs c, failing the test on any error.
func mustSync(t *testing.T, c *client.Client) []client.SyncResult {
	t.Helper()
	res, err := c.Sync(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
