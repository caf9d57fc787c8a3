package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/web"
	"github.com/candorcloud/candor/internal/web/wasm"
)

func get(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every answer, a 404 and a 405 included, carries the security headers.
func TestSecurityHeaders(t *testing.T) {
	h := web.New()
	want := map[string]string{
		"Content-Security-Policy":    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"GET", "/staff"}, {"GET", "/assets/candor.css"}, {"GET", "/assets/js/center.js"},
		{"GET", "/assets/candor.wasm"}, {"GET", "/assets/wasm_exec.js"}, {"GET", "/assets/i18n/hi.json"},
		{"GET", "/assets/nothing.js"}, {"POST", "/"}, {"HEAD", "/staff"},
	} {
		r := get(t, h, c.method, c.path)
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, got, v)
			}
		}
		if pp := r.Header.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") {
			t.Errorf("%s %s: Permissions-Policy = %q", c.method, c.path, pp)
		}
	}
}

// The pages and assets answer with their types; the HTML has no inline
// script or style, which the CSP would block anyway.
func TestPages(t *testing.T) {
	h := web.New()
	for path, ctype := range map[string]string{
		"/":                         "text/html; charset=utf-8",
		"/staff":                    "text/html; charset=utf-8",
		"/assets/candor.css":        "text/css; charset=utf-8",
		"/assets/js/center.js":      "text/javascript; charset=utf-8",
		"/assets/js/staff.js":       "text/javascript; charset=utf-8",
		"/assets/i18n/en.json":      "application/json",
		"/assets/i18n/zh-Hans.json": "application/json",
		"/assets/wasm_exec.js":      "text/javascript; charset=utf-8",
		"/assets/candor.wasm":       "application/wasm",
	} {
		r := get(t, h, "GET", path)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ctype {
			t.Errorf("GET %s = %d %q, want 200 %q", path, r.StatusCode, r.Header.Get("Content-Type"), ctype)
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q", path, r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
		}
	}
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/", "/staff"} {
		b := body(t, get(t, h, "GET", path))
		if m := inline.Find(b); m != nil {
			t.Errorf("%s has inline script or style: %q", path, m)
		}
		for _, src := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(b, -1) {
			u := string(src[1])
			if u == "data:," {
				continue
			}
			if !strings.HasPrefix(u, "/assets/") {
				t.Errorf("%s refers to %s, outside /assets/", path, u)
				continue
			}
			if r := get(t, h, "GET", u); r.StatusCode != http.StatusOK {
				t.Errorf("%s refers to %s, which answers %d", path, u, r.StatusCode)
			}
		}
	}
}

// Every module a script imports is served.
func TestImportsResolve(t *testing.T) {
	h := web.New()
	imp := regexp.MustCompile(`(?m)^import .* from "\./([^"]+)";`)
	files, _ := filepath.Glob(filepath.Join("assets", "js", "*.js"))
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range imp.FindAllSubmatch(b, -1) {
			if r := get(t, h, "GET", "/assets/js/"+string(m[1])); r.StatusCode != http.StatusOK {
				t.Errorf("%s imports %s, which answers %d", f, m[1], r.StatusCode)
			}
		}
	}
}

// The wasm goes gzipped to a client that accepts gzip, and plain to one
// that does not or refuses it with q=0; both are the same program.
func TestWasmGzip(t *testing.T) {
	h := web.New()
	plain := body(t, get(t, h, "GET", "/assets/candor.wasm"))
	if !bytes.HasPrefix(plain, []byte("\x00asm")) {
		t.Fatalf("without Accept-Encoding the wasm is not plain WebAssembly (starts %x)", plain[:min(8, len(plain))])
	}
	zr, err := gzip.NewReader(bytes.NewReader(wasm.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := io.ReadAll(zr); !bytes.Equal(plain, want) {
		t.Fatal("the plain wasm is not the committed gzip decompressed")
	}
	for _, c := range []struct {
		accept string
		gz     bool
	}{
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"*", true},
		{"gzip;q=0", false},
		{"gzip;q=0, *", false},
		{"*;q=0", false},
		{"deflate, br", false},
		{"", false},
	} {
		r := get(t, h, "GET", "/assets/candor.wasm", "Accept-Encoding", c.accept)
		b := body(t, r)
		if r.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary = %q", c.accept, r.Header.Get("Vary"))
		}
		if got := r.Header.Get("Content-Encoding") == "gzip"; got != c.gz {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", c.accept, got, c.gz)
			continue
		}
		if c.gz {
			if !bytes.Equal(b, wasm.Gzip) {
				t.Errorf("Accept-Encoding %q: not the committed gzip", c.accept)
			}
			continue
		}
		if !bytes.Equal(b, plain) {
			t.Errorf("Accept-Encoding %q: a different program", c.accept)
		}
	}
	gzTag := get(t, h, "GET", "/assets/candor.wasm", "Accept-Encoding", "gzip").Header.Get("ETag")
	plainTag := get(t, h, "GET", "/assets/candor.wasm").Header.Get("ETag")
	if gzTag == plainTag {
		t.Error("the gzipped and the plain wasm share an ETag: a cache could answer one for the other")
	}
	if r := get(t, h, "GET", "/assets/candor.wasm", "Accept-Encoding", "gzip", "If-None-Match", plainTag); r.StatusCode == http.StatusNotModified {
		t.Error("the plain wasm's ETag validated the gzipped answer")
	}
}

// A repeat visit is a 304 with no body; a changed or foreign ETag is not.
func TestETag(t *testing.T) {
	h := web.New()
	for _, path := range []string{"/", "/staff", "/assets/js/center.js", "/assets/candor.wasm"} {
		r := get(t, h, "GET", path, "Accept-Encoding", "gzip")
		tag := r.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{32}(-gz)?"$`).MatchString(tag) {
			t.Fatalf("%s: ETag %q", path, tag)
		}
		for _, inm := range []string{tag, `"x", ` + tag, "W/" + tag, "*"} {
			r2 := get(t, h, "GET", path, "Accept-Encoding", "gzip", "If-None-Match", inm)
			if r2.StatusCode != http.StatusNotModified || len(body(t, r2)) != 0 {
				t.Errorf("%s with If-None-Match %s: %d, want 304 and no body", path, inm, r2.StatusCode)
			}
			if r2.Header.Get("ETag") != tag || r2.Header.Get("Content-Security-Policy") == "" {
				t.Errorf("%s: a 304 without its ETag or CSP", path)
			}
		}
		if r3 := get(t, h, "GET", path, "If-None-Match", `"0123456789abcdef0123456789abcdef"`); r3.StatusCode != http.StatusOK {
			t.Errorf("%s with another ETag: %d, want 200", path, r3.StatusCode)
		}
	}
	if get(t, h, "GET", "/").Header.Get("ETag") == get(t, h, "GET", "/staff").Header.Get("ETag") {
		t.Error("the two pages share an ETag")
	}
}

// HEAD answers the headers of GET, with no body.
func TestHead(t *testing.T) {
	h := web.New()
	for _, path := range []string{"/", "/staff", "/assets/candor.css", "/assets/candor.wasm"} {
		g := get(t, h, "GET", path)
		gb := body(t, g)
		r := get(t, h, "HEAD", path)
		if r.StatusCode != http.StatusOK || len(body(t, r)) != 0 {
			t.Errorf("HEAD %s: %d with a body", path, r.StatusCode)
		}
		for _, k := range []string{"Content-Type", "Content-Length", "ETag", "Content-Security-Policy"} {
			if r.Header.Get(k) != g.Header.Get(k) {
				t.Errorf("HEAD %s: %s = %q, GET's %q", path, k, r.Header.Get(k), g.Header.Get(k))
			}
		}
		if g.Header.Get("Content-Length") != strconv.Itoa(len(gb)) {
			t.Errorf("GET %s: Content-Length %s for %d bytes", path, g.Header.Get("Content-Length"), len(gb))
		}
	}
}

// What the pages do not hold is a 404 in the API's error body: no
// directory listing, no way out of /assets, no page under a second name.
// Other methods are 405.
func TestNotFound(t *testing.T) {
	h := web.New()
	for _, path := range []string{
		"/assets/", "/assets/js", "/assets/js/", "/assets/i18n/", "/assets/nothing.js", "/assets/i18n/fr.json",
		"/assets/index.html", "/assets/staff.html", "/assets/../web.go", "/assets/js/../../web.go", "/web.go",
		"/assets/%2e%2e/web.go", "/index.html", "/staff/", "/assets/candor.wasm.gz", "/assets/js/center.js/",
	} {
		r := get(t, h, "GET", path)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.StatusCode)
			continue
		}
		var e api.ErrorResponse
		if err := json.Unmarshal(body(t, r), &e); err != nil || e.Error.Code != "not_found" || e.Error.Message == "" {
			t.Errorf("GET %s: body %+v (%v), want the API's not_found", path, e, err)
		}
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: a 404 of %q, %q", path, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		r := get(t, h, m, "/assets/candor.css")
		var e api.ErrorResponse
		json.Unmarshal(body(t, r), &e)
		if r.StatusCode != http.StatusMethodNotAllowed || e.Error.Code != "method_not_allowed" || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s = %d %+v, Allow %q", m, r.StatusCode, e, r.Header.Get("Allow"))
		}
	}
}

// The three languages hold the same keys, none empty, and every key the
// pages use: no string is left untranslated.
func TestLanguagesComplete(t *testing.T) {
	load := func(lang string) map[string]string {
		b, err := os.ReadFile(filepath.Join("assets", "i18n", lang+".json"))
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s.json: %v", lang, err)
		}
		return m
	}
	en := load("en")
	placeholders := regexp.MustCompile(`\{\w+\}`)
	for _, lang := range []string{"hi", "zh-Hans"} {
		m := load(lang)
		for _, k := range slices.Sorted(maps.Keys(en)) {
			v, ok := m[k]
			switch {
			case !ok:
				t.Errorf("%s.json lacks %q", lang, k)
			case strings.TrimSpace(v) == "":
				t.Errorf("%s.json: %q is empty", lang, k)
			case !slices.Equal(sortedAll(placeholders, v), sortedAll(placeholders, en[k])):
				t.Errorf("%s.json: %q has placeholders %v, English %v", lang, k, sortedAll(placeholders, v), sortedAll(placeholders, en[k]))
			}
		}
		for k := range m {
			if _, ok := en[k]; !ok {
				t.Errorf("%s.json has %q, which en.json has not", lang, k)
			}
		}
	}
	// Every key named in the pages and scripts exists.
	used := map[string]bool{}
	keyRE := regexp.MustCompile(`\bt\("([a-z][a-zA-Z0-9_.]*)"|data-i18n(?:-label|-placeholder)?="([^"]+)"|"(log\.alarm\.[a-z]+)"`)
	fs.WalkDir(os.DirFS("assets"), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(name, ".js") || strings.HasSuffix(name, ".html")) {
			return err
		}
		b, _ := os.ReadFile(filepath.Join("assets", name))
		for _, m := range keyRE.FindAllSubmatch(b, -1) {
			for _, g := range m[1:] {
				if len(g) > 0 && !strings.HasSuffix(string(g), ".") {
					used[string(g)] = true
				}
			}
		}
		return nil
	})
	if len(used) < 50 {
		t.Fatalf("found only %d keys in the pages: has the way they name strings changed?", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("the pages use %q, which en.json lacks", k)
		}
	}
	for _, c := range []string{"contacts", "notes", "sms", "photos", "messaging"} {
		for _, p := range []string{"cat.", "collects."} {
			if _, ok := en[p+c]; !ok {
				t.Errorf("en.json lacks %q", p+c)
			}
		}
	}
}

func sortedAll(re *regexp.Regexp, s string) []string {
	out := re.FindAllString(s, -1)
	slices.Sort(out)
	return out
}
