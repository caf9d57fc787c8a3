package server_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor/api"
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
