package client

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/candorcloud/candor/internal/egress"
)

// The privacy proofs of these tests: no secret in any request a phone
// sent (assertNeverSent), none in the files of a folder (scanFolder). Each
// searches every form the egress proof knows (internal/egress: the clear,
// URL-escaped, hex, base64 at every alignment, digests, normalised numbers
// and emails), refuses to pass having searched nothing, and proves, each
// time, that it can find: before a "found none" is trusted, each secret is
// planted in an encoded form where the same search looks, and must be
// found there.

// request is one HTTP request a phone sent.
type request struct {
	Method, Path string // Path is the request URI: the path and the query
	Header       http.Header
	Body         []byte
}

// egress is r as the egress detector scans it.
func (r request) egress() egress.Request {
	path, query, _ := strings.Cut(r.Path, "?")
	return egress.Request{Method: r.Method, Path: path, Query: query, Header: r.Header, Body: r.Body}
}

// recorder is an HTTP client that records every request a phone sends. It
// can run a hook before sending one, and let another rewrite the answer.
type recorder struct {
	mu     sync.Mutex
	reqs   []request
	before func(r *http.Request)
	answer atomic.Pointer[func(r *http.Request, resp *http.Response)] // resp is a 2xx answer
}

func (rec *recorder) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
		before := rec.before
		rec.mu.Unlock()
		if before != nil {
			before(r)
		}
		resp, err := http.DefaultTransport.RoundTrip(r)
		if answer := rec.answer.Load(); err == nil && answer != nil && resp.StatusCode/100 == 2 {
			(*answer)(r, resp)
		}
		return resp, err
	})}
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.reqs)
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	rec.reqs = nil
	rec.mu.Unlock()
}

// assertNeverSent fails unless the phone sent requests, none of which
// holds any of secrets in any form (see sentProblems).
func (rec *recorder) assertNeverSent(t *testing.T, secrets ...string) {
	t.Helper()
	for _, p := range sentProblems(rec.requests(), secrets) {
		t.Error(p)
	}
}

// scanFolder fails unless every file under dir could be read and none of
// them holds any of secrets in any form (see folderProblems).
func scanFolder(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	for _, p := range folderProblems(dir, secrets) {
		t.Error(p)
	}
}

// canaries makes secrets egress canaries: a full E.164 number is searched
// as a phone number (without the plus, its national number, grouped), an
// email address as one, anything else as text.
func canaries(secrets []string) []egress.Canary {
	out := make([]egress.Canary, len(secrets))
	for i, s := range secrets {
		kind := egress.Text
		switch {
		case phonePattern.MatchString(s):
			kind = egress.Phone
		case strings.Contains(s, "@"):
			kind = egress.Email
		}
		out[i] = egress.Canary{Item: s, Value: []byte(s), Kind: kind}
	}
	return out
}

// sentProblems returns what stands against trusting that none of secrets
// was sent in reqs: each secret found in a request, no request at all to
// search, or a planted secret the search misses (see plantedRequests).
func sentProblems(reqs []request, secrets []string) []string {
	if len(reqs) == 0 {
		return []string{"no request was recorded: there is nothing to search"}
	}
	det := egress.NewDetector(canaries(secrets))
	search := func(reqs []request) []egress.Finding {
		var out []egress.Finding
		for _, r := range reqs {
			out = append(out, det.Scan(r.egress())...)
		}
		return out
	}
	var out []string
	for _, f := range search(reqs) {
		out = append(out, fmt.Sprintf("%s %s sent %q (%s, in the %s)", f.Method, f.Path, f.Item, f.Form, f.Where))
	}
	planted := plantedRequests(secrets)
	found := search(append(slices.Clone(reqs), planted...))
	for _, s := range secrets {
		if !slices.ContainsFunc(found, func(f egress.Finding) bool { return f.Item == s && f.Path == controlPath }) {
			out = append(out, fmt.Sprintf("control: the search missed %q planted in a request", s))
		}
	}
	return out
}

// controlPath is the path of the requests that plant secrets.
const controlPath = "/v1/privacy-control"

// plantedRequests returns one request per secret, carrying it in an
// encoded form in a place the search must look: a query parameter, a
// header, the body; base64, hex of its SHA-256, URL-escaped, in JSON.
func plantedRequests(secrets []string) []request {
	var out []request
	for i, s := range secrets {
		r := request{Method: http.MethodPost, Path: controlPath, Header: http.Header{}}
		switch i % 4 {
		case 0:
			r.Path += "?q=" + url.QueryEscape(s)
		case 1:
			r.Header.Set("X-Control", base64.StdEncoding.EncodeToString([]byte("v1:"+s)))
		case 2:
			sum := sha256.Sum256([]byte(s))
			r.Body = []byte(`{"digest":"` + hex.EncodeToString(sum[:]) + `"}`)
		case 3:
			r.Body = []byte(`{"data":"` + base64.RawURLEncoding.EncodeToString([]byte("xy"+s)) + `"}`)
		}
		out = append(out, r)
	}
	return out
}

// folderProblems returns what stands against trusting that no file under
// dir holds any of secrets: each secret found in a file, in any form; a
// folder that cannot be walked or a file that cannot be read (a file that
// vanishes while the folder is walked, as a database's journal does, is no
// problem); no file at all to search; or a planted secret the same walk
// misses (see plantFiles).
func folderProblems(dir string, secrets []string) []string {
	det := egress.NewDetector(canaries(secrets))
	out, files := searchFolder(dir, det)
	if len(out) > 0 && files == 0 {
		return out
	}
	if files == 0 {
		return []string{dir + " holds no file: there is nothing to search"}
	}
	planted, err := plantFiles(dir, secrets)
	if err != nil {
		return append(out, "control: "+err.Error())
	}
	found, _ := searchFolder(dir, det)
	os.RemoveAll(planted)
	for i, s := range secrets {
		want := fmt.Sprintf("%s holds %q", filepath.Join(planted, fmt.Sprint(i)), s)
		if !slices.ContainsFunc(found, func(f string) bool { return strings.HasPrefix(f, want+" ") }) {
			out = append(out, fmt.Sprintf("control: the search of %s missed %q planted in a file", dir, s))
		}
	}
	return out
}

// searchFolder searches every regular file under dir and returns what it
// found and could not do, and how many files it searched.
func searchFolder(dir string, det *egress.Detector) (problems []string, files int) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var b []byte
			if b, err = os.ReadFile(p); err == nil {
				files++
				for _, m := range det.Search(b) {
					problems = append(problems, fmt.Sprintf("%s holds %q (%s)", p, m.Item, m.Form))
				}
			}
		}
		if err != nil && p != dir && errors.Is(err, fs.ErrNotExist) {
			return nil // removed while the folder was walked
		}
		return err
	})
	if err != nil {
		problems = append(problems, fmt.Sprintf("cannot search %s: %v", dir, err))
	}
	return problems, files
}

// plantFiles makes a folder in dir holding one file per secret (named by
// its index), each with the secret in an encoded form among other bytes,
// and returns the folder; the caller removes it.
func plantFiles(dir string, secrets []string) (string, error) {
	planted, err := os.MkdirTemp(dir, ".privacy-control-")
	if err != nil {
		return "", err
	}
	noise := make([]byte, 64)
	rand.Read(noise)
	for i, s := range secrets {
		var form []byte
		switch i % 4 {
		case 0:
			form = []byte(strings.ToUpper(s))
		case 1:
			form = []byte(base64.StdEncoding.EncodeToString([]byte("{" + s + "}")))
		case 2:
			sum := sha256.Sum256([]byte(s))
			form = sum[:]
		case 3:
			form = []byte(hex.EncodeToString([]byte(s)))
		}
		b := slices.Concat(noise, form, noise)
		if err := os.WriteFile(filepath.Join(planted, fmt.Sprint(i)), b, 0o600); err != nil {
			os.RemoveAll(planted)
			return "", err
		}
	}
	return planted, nil
}

// The privacy checks find what they are meant to find, and refuse to pass
// having searched nothing: this fails if either is made vacuous again.
func TestPrivacyChecksAreNotVacuous(t *testing.T) {
	secrets := []string{canaryEmail, canaryPhone, "Saffron-kettle ना भूलें", canaryIMEI}
	clean := []request{{Method: http.MethodGet, Path: "/v1/consents?x=1", Header: http.Header{"Authorization": {"Bearer t"}}}}
	if p := sentProblems(clean, secrets); len(p) != 0 {
		t.Errorf("clean requests: %q", p)
	}
	if p := sentProblems(nil, secrets); len(p) == 0 {
		t.Error("no request at all passed")
	}
	sum := sha256.Sum256([]byte(canaryIMEI))
	for name, r := range map[string]request{
		"path, without the plus":      {Method: "GET", Path: "/v1/x/" + canaryPhone[1:]},
		"query, url-escaped":          {Method: "GET", Path: "/v1/x?e=" + url.QueryEscape(canaryEmail)},
		"header, base64":              {Method: "GET", Path: "/v1/x", Header: http.Header{"X": {base64.StdEncoding.EncodeToString([]byte("ab" + canaryEmail))}}},
		"body, sha256 hex":            {Method: "POST", Path: "/v1/x", Body: []byte(hex.EncodeToString(sum[:]))},
		"body, json \\u-escaped text": {Method: "POST", Path: "/v1/x", Body: []byte(`{"t":"Saffron-kettle \u0928\u093e \u092d\u0942\u0932\u0947\u0902"}`)},
	} {
		if p := sentProblems(append(slices.Clone(clean), r), secrets); len(p) != 1 {
			t.Errorf("a secret sent in the %s: problems %q, want one", name, p)
		}
	}

	dir := t.TempDir()
	if p := folderProblems(dir, secrets); len(p) == 0 {
		t.Error("an empty folder passed")
	}
	if p := folderProblems(filepath.Join(dir, "missing"), secrets); len(p) != 1 || !strings.Contains(p[0], "cannot search") {
		t.Errorf("a missing folder: %q", p)
	}
	os.WriteFile(filepath.Join(dir, "clean.json"), []byte(`{"nothing":"here"}`), 0o600)
	if p := folderProblems(dir, secrets); len(p) != 0 {
		t.Errorf("a clean folder: %q", p)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the control left %d entries behind", len(entries)-1)
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "sub", "blob"), []byte("\x00\x01"+base64.RawURLEncoding.EncodeToString([]byte(canaryPhone))), 0o600)
	if p := folderProblems(dir, secrets); len(p) != 1 || !strings.Contains(p[0], "blob holds") {
		t.Errorf("a secret in base64 in a file: %q", p)
	}
	if os.Getuid() != 0 { // root reads what it may not
		os.Chmod(filepath.Join(dir, "sub"), 0)
		defer os.Chmod(filepath.Join(dir, "sub"), 0o700)
		if p := folderProblems(dir, secrets); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "cannot search") }) {
			t.Errorf("an unreadable folder: %q", p)
		}
	}
}
