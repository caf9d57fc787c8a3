package servertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// The API's description, docs/openapi.yaml, is held to the server's real
// traffic: every server a test starts here answers through CheckAPI, which
// checks each request and its answer against the description and fails the
// test on a mismatch. What it holds the server to:
//
//   - a request to a path and method the description has no operation for
//     is answered 404 or 405 with an ErrorResponse;
//   - a request the description calls invalid (a missing or wrong
//     parameter, a body that does not match its schema, no token where the
//     operation needs one) is refused with a 4xx: the server accepting it
//     means the description is stricter than the server, or a client sends
//     what it should not;
//   - every answer has a status the operation documents, and its headers
//     and body match what the description says of that status.
//
// What it cannot see: the frames of a WebSocket after the 101 (only the
// upgrade's status is checked), a body the handler stopped reading before
// its end (a refused photo part, a body over the limit: only the
// parameters are checked), and a body over checkedBytes (a large photo:
// only its status and headers are checked).

// checkedBytes is the most of a request or response body that is kept for
// the check: more than the largest JSON body (api.MaxBodyBytes) and the
// largest photo part.
const checkedBytes = 8<<20 + 1

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	routes *http.ServeMux
	err    error
}

// Spec returns docs/openapi.yaml, loaded and validated as an OpenAPI 3
// document once per test binary. It fails the test if the document does not
// load or is not valid. The document is shared: do not change it.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	spec.once.Do(func() { spec.doc, spec.routes, spec.err = loadSpec() })
	if spec.err != nil {
		t.Fatalf("docs/openapi.yaml: %v", spec.err)
	}
	return spec.doc
}

func loadSpec() (*openapi3.T, *http.ServeMux, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, nil, errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(dir, "docs", "openapi.yaml"))
	if err != nil {
		return nil, nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, nil, fmt.Errorf("not a valid OpenAPI document: %v", err)
	}
	routes, err := specRoutes(doc)
	if err != nil {
		return nil, nil, err
	}
	return doc, routes, nil
}

// specRoutes returns a ServeMux that routes a request the way the server
// does, to a handler that records the operation and its path parameters in
// the request's match. A path parameter marked x-candor-rest takes the rest
// of the path, slashes included (a `{name...}` pattern in the server).
func specRoutes(doc *openapi3.T) (mux *http.ServeMux, err error) {
	mux = http.NewServeMux()
	defer func() {
		if p := recover(); p != nil { // ServeMux panics on conflicting patterns
			err = fmt.Errorf("paths: %v", p)
		}
	}()
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			var names []string
			pattern := path
			for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, p := range params {
					if p.Value == nil || p.Value.In != openapi3.ParameterInPath {
						continue
					}
					names = append(names, p.Value.Name)
					if rest, _ := p.Value.Extensions["x-candor-rest"].(bool); rest {
						pattern = strings.Replace(pattern, "{"+p.Value.Name+"}", "{"+p.Value.Name+"...}", 1)
					}
				}
			}
			if strings.HasSuffix(pattern, "/") {
				pattern += "{$}"
			}
			mux.HandleFunc(method+" "+pattern, func(_ http.ResponseWriter, r *http.Request) {
				m := r.Context().Value(matchKey{}).(*match)
				m.route = route
				m.params = map[string]string{}
				for _, name := range names {
					m.params[name] = r.PathValue(name)
				}
			})
		}
	}
	return mux, nil
}

type matchKey struct{}

// match is the operation a request is for, found by the spec's routes.
type match struct {
	route  *routers.Route
	params map[string]string
}

// find returns the operation of the description that r is for, or nil.
func find(r *http.Request) *match {
	m := &match{}
	probe := r.Clone(context.WithValue(r.Context(), matchKey{}, m))
	probe.Body = http.NoBody
	spec.routes.ServeHTTP(httptest.NewRecorder(), probe)
	if m.route == nil {
		return nil
	}
	return m
}

// CheckAPI returns h wrapped so that every request it serves, and its
// answer, is checked against docs/openapi.yaml (see above); a mismatch is a
// test error (t.Errorf, from the request's goroutine), reported once per
// kind. The returned stop ends the checks: call it once the server has
// stopped, before the test ends; requests still running after it (a
// WebSocket) are not checked.
func CheckAPI(t testing.TB, h http.Handler) (checked http.Handler, stop func()) {
	t.Helper()
	Spec(t)
	c := &checker{t: t, seen: map[string]bool{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if notDescribed(r.URL.Path) {
			h.ServeHTTP(w, r) // not JSON: see x-candor-not-described in the document
			return
		}
		body := &teeBody{ReadCloser: r.Body}
		r.Body = body
		rec := &recorder{ResponseWriter: w, check: func(rec *recorder) { c.check(r, body, rec) }}
		h.ServeHTTP(rec, r)
		if rec.status == 0 && r.Context().Err() != nil && !rec.hijacked {
			return // the client went away and nothing was answered: no one reads an answer to check
		}
		rec.finish()
	}), c.stop
}

// notDescribed tells whether path is under a prefix the document lists in
// x-candor-not-described: a protocol OpenAPI cannot describe (CardDAV's
// PROPFIND and REPORT), tested on its own.
func notDescribed(path string) bool {
	list, _ := spec.doc.Extensions["x-candor-not-described"].([]any)
	for _, v := range list {
		if p, ok := v.(string); ok && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

type checker struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
	seen    map[string]bool
}

func (c *checker) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

// report fails the test once for each operation, status and message.
func (c *checker) report(r *http.Request, m *match, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	key := fmt.Sprintf("%s %s %d %s", r.Method, r.URL.Path, status, msg)
	if m != nil {
		key = fmt.Sprintf("%s %s %d %s", m.route.Method, m.route.Path, status, msg)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.seen[key] {
		return
	}
	c.seen[key] = true
	c.t.Errorf("docs/openapi.yaml and the server disagree on %s %s (answered %d): %s", r.Method, r.URL.Path, status, msg)
}

// check holds one request and its answer to the description.
func (c *checker) check(r *http.Request, body *teeBody, rec *recorder) {
	status := rec.status
	m := find(r)
	if m == nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			c.report(r, m, status, "no operation for this method and path, yet the server answered")
			return
		}
		if err := errorBody(rec); err != nil {
			c.report(r, m, status, "%v", err)
		}
		return
	}

	reqBody, complete := body.bytes()
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	if len(reqBody) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json") // what the server assumes
	}
	opts := &openapi3filter.Options{
		ExcludeRequestBody:  !complete,
		ExcludeResponseBody: rec.hijacked || rec.over,
		// A status the operation does not list is a mismatch too.
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    bearer,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: m.params, Route: m.route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && status < 400 {
		c.report(r, m, status, "the server accepted a request the description calls invalid: %v", err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: rec.header, Options: opts}
	out.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.report(r, m, status, "the answer does not match the description: %v", err)
	}
}

// bearer checks a request's token against a security scheme of the
// description by its form: a device session token (cdt_) for bearerAuth, a
// staff token (cst_) for staffToken, a browser's session token (cbt_) in
// the candor_session cookie, without an Authorization header, for
// sessionCookie. Whether the token is valid is the server's to say.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	if sc := in.SecurityScheme; sc != nil && sc.Type == "apiKey" && sc.In == "cookie" {
		// A browser's or a staff console's session cookie, without an
		// Authorization header, with its token's prefix.
		prefix := map[string]string{"candor_session": "cbt_", "candor_staff": "cst_"}[sc.Name]
		c, err := req.Cookie(sc.Name)
		if err != nil || prefix == "" || req.Header.Get("Authorization") != "" || !strings.HasPrefix(c.Value, prefix) {
			return in.NewError(nil)
		}
		return nil
	}
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	prefix := map[string]string{"bearerAuth": "cdt_", "staffToken": "cst_"}[in.SecuritySchemeName]
	if !ok || prefix == "" || !strings.HasPrefix(token, prefix) {
		return in.NewError(nil)
	}
	return nil
}

// errorBody checks that an answer the description has no operation for is
// an ErrorResponse.
func errorBody(rec *recorder) error {
	schema := spec.doc.Components.Schemas["ErrorResponse"]
	if schema == nil {
		return errors.New("components.schemas has no ErrorResponse")
	}
	if mt, _, _ := mime.ParseMediaType(rec.header.Get("Content-Type")); mt != "application/json" {
		return fmt.Errorf("an error answer of Content-Type %q, not an ErrorResponse", rec.header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(rec.body.Bytes(), &v); err != nil {
		return fmt.Errorf("an error answer that is not JSON: %v", err)
	}
	if err := schema.Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return fmt.Errorf("an error answer that is not an ErrorResponse: %v", err)
	}
	return nil
}

// teeBody keeps what the handler reads of a request's body, up to
// checkedBytes, without reading anything the handler does not.
type teeBody struct {
	io.ReadCloser
	mu   sync.Mutex
	buf  bytes.Buffer
	over bool
	eof  bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len()+n > checkedBytes {
		b.over = true
	} else {
		b.buf.Write(p[:n])
	}
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// bytes returns what was read and whether it is the whole body.
func (b *teeBody) bytes() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ReadCloser == http.NoBody {
		return nil, true
	}
	return bytes.Clone(b.buf.Bytes()), b.eof && !b.over
}

// recorder passes an answer through, keeping its status, headers and up
// to checkedBytes of its body. A WebSocket upgrade is checked when it is
// hijacked; any other answer when its handler returns.
type recorder struct {
	http.ResponseWriter
	check    func(*recorder)
	status   int
	header   http.Header
	body     bytes.Buffer
	over     bool
	hijacked bool
	checked  bool
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 || w.status < 200 {
		w.status = code
		w.header = w.Header().Clone()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.body.Len()+len(p) > checkedBytes {
		w.over = true
	} else {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer (Flush,
// deadlines).
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recorder) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		if w.status == 0 {
			// A relay writes the 101 it was given, and its headers, onto
			// the connection itself, after taking it: it is checked when
			// the relay returns, with the headers it set.
			w.status = http.StatusSwitchingProtocols
			return conn, rw, err
		}
		w.finish()
	}
	return conn, rw, err
}

func (w *recorder) finish() {
	if w.checked {
		return
	}
	w.checked = true
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.header == nil {
		w.header = w.Header().Clone()
	}
	w.check(w)
}
