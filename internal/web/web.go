package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/web/wasm"
)

//go:embed assets
var assets embed.FS

// CSP is the Content-Security-Policy of every answer: scripts and styles
// only from this origin and never inline ('wasm-unsafe-eval' lets the
// page compile the WebAssembly sign-in, and nothing else), requests only to
// this origin, no frames either way, no <base>, forms posted only here.
const CSP = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// PermissionsPolicy turns off the powerful features the pages never use.
// WebAuthn (publickey-credentials-*) keeps its default, this origin only.
const PermissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), bluetooth=(), hid=(), display-capture=(), interest-cohort=()"

// file is one embedded answer, prepared once.
type file struct {
	body  []byte
	gzip  []byte // the body gzipped, when that is how it is stored (the wasm)
	ctype string
	etag  string // of the stored bytes; a gzipped answer's is etag with -gz

	// For a file stored gzipped, body is decompressed on first need: only
	// a client that does not accept gzip needs it, and decompressing the
	// wasm at every start would slow every server start for nothing.
	once  sync.Once
	plain []byte
	err   error
}

// plainBody is the file's bytes, decompressed if stored gzipped.
func (f *file) plainBody() ([]byte, error) {
	if f.gzip == nil {
		return f.body, nil
	}
	f.once.Do(func() { f.plain, f.err = gunzip(f.gzip) })
	return f.plain, f.err
}

// Pages is the http.Handler of the pages and their assets. It is safe for
// concurrent use; everything it serves is read into memory by New.
type Pages struct {
	files map[string]*file // by URL path
}

var _ http.Handler = (*Pages)(nil)

// New returns the pages' handler. It panics only if the embedded files are
// broken, which the package's tests rule out.
func New() *Pages {
	p := &Pages{files: map[string]*file{}}
	err := fs.WalkDir(assets, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(name)
		if err != nil {
			return err
		}
		p.files["/"+name] = newFile(b, nil, name)
		return nil
	})
	if err != nil {
		panic("web: reading the embedded assets: " + err.Error())
	}
	p.files["/"] = p.files["/assets/index.html"]
	p.files["/staff"] = p.files["/assets/staff.html"]
	p.files["/assets/candor.wasm"] = newFile(nil, wasm.Gzip, "candor.wasm")
	p.files["/assets/wasm_exec.js"] = newFile(wasm.ExecJS, nil, "wasm_exec.js")
	return p
}

func newFile(body, gz []byte, name string) *file {
	sum := sha256.Sum256(body)
	if gz != nil {
		sum = sha256.Sum256(gz)
	}
	return &file{body: body, gzip: gz, ctype: contentType(name), etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".wasm":
		return "application/wasm"
	}
	return "application/octet-stream"
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// ServeHTTP answers GET and HEAD of /, /staff and /assets/…, with the
// security headers on every answer. A path it does not hold (a directory
// included: there are no listings) is 404 in the API's error body; another
// method is 405. Answers carry an ETag and Cache-Control: no-cache, so a
// repeat visit costs a 304 per file.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", PermissionsPolicy)
	h.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		writeError(w, candor.Errorf(candor.MethodNotAllowed, "this endpoint does not take %s", r.Method))
		return
	}
	f := p.files[r.URL.Path]
	if f == nil || strings.HasSuffix(r.URL.Path, ".html") {
		// The pages are served at / and /staff only, so that relative
		// links and the history have one address per page.
		writeError(w, candor.E(candor.NotFound, "no such page or file"))
		return
	}
	body, etag := f.body, f.etag
	if f.gzip != nil {
		h.Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = f.gzip, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			h.Set("Content-Encoding", "gzip")
		} else {
			var err error
			if body, err = f.plainBody(); err != nil {
				writeError(w, candor.E(candor.Internal, "this file cannot be read"))
				return
			}
		}
	}
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if matches(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Type")
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// acceptsGzip tells whether an Accept-Encoding header accepts gzip: listed
// (or *) with a q-value above zero.
func acceptsGzip(header string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "x-gzip" && name != "*" {
			continue
		}
		ok := true
		for _, param := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if name == "*" {
			star = ok
			continue
		}
		return ok
	}
	return star
}

// matches tells whether an If-None-Match header names etag (or is *).
// Weak comparison, as RFC 9110 asks for If-None-Match.
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// writeError answers in the API's error vocabulary (api.ErrorResponse,
// status from api.StatusOf).
func writeError(w http.ResponseWriter, err error) {
	kind := candor.KindOf(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(api.StatusOf(kind))
	json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.Error{Code: kind.Code(), Message: candor.Message(err)}})
}
