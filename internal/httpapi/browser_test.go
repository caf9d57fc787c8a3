package httpapi

import (
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/candorcloud/candor/api"
)

// The CSRF value is the contract's derivation of the token (a vector
// computed apart from this code), 22 base64url characters.
func TestCSRFFor(t *testing.T) {
	token := "cbt_" + strings.Repeat("A", 43)
	if got, want := csrfFor(token), "Ry8qUQt2ptRHwIx_3QtrnA"; got != want {
		t.Fatalf("csrfFor = %q, want %q", got, want)
	}
	if csrfFor(token) == csrfFor(token+"B") {
		t.Fatal("two tokens share a CSRF value")
	}
}

func TestCheckCSRF(t *testing.T) {
	token := "cbt_" + strings.Repeat("x", 43)
	for _, tc := range []struct {
		method, header string
		ok             bool
	}{
		{"GET", "", true},
		{"HEAD", "", true},
		{"POST", "", false},
		{"PUT", csrfFor("cbt_other"), false},
		{"DELETE", csrfFor(token)[:21], false},
		{"DELETE", csrfFor(token) + "A", false},
		{"PATCH", csrfFor(token), true},
		{"DELETE", csrfFor(token), true},
	} {
		r := httptest.NewRequest(tc.method, "/v1/account", nil)
		if tc.header != "" {
			r.Header.Set(api.CSRFHeader, tc.header)
		}
		if err := checkCSRF(r, token); (err == nil) != tc.ok {
			t.Errorf("%s with %q: %v", tc.method, tc.header, err)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, fetchSite string
		tls, ok           bool
	}{
		{"", "", false, true},
		{"http://candor.example", "", false, true},
		{"https://candor.example", "same-origin", false, true}, // a TLS proxy in front
		{"https://CANDOR.example", "", false, true},
		{"", "none", false, true},
		{"https://candor.example", "", true, true},
		{"http://candor.example", "", true, false}, // over TLS, a plain page is another origin
		{"https://evil.example", "", false, false},
		{"https://candor.example.evil.example", "", false, false},
		{"https://candor.example:8443", "", false, false},
		{"null", "", false, false},
		{"file://candor.example", "", false, false},
		{"https://user@candor.example", "", false, false},
		{"https://candor.example/path", "", false, false},
		{"%zz", "", false, false},
		{"", "cross-site", false, false},
		{"", "same-site", false, false},
		{"http://candor.example", "cross-site", false, false},
	} {
		r := httptest.NewRequest("POST", "http://candor.example/v1/account", nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
		}
		if err := sameOrigin(r, ""); (err == nil) != tc.ok {
			t.Errorf("Origin %q, Sec-Fetch-Site %q, TLS %v: %v", tc.origin, tc.fetchSite, tc.tls, err)
		}
	}
}

func TestSessionCookieFlags(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v1/sessions", nil)
	setSessionCookie(w, r, "cbt_t", 43200e9)
	if got, want := w.Header().Get("Set-Cookie"), "candor_session=cbt_t; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict"; got != want {
		t.Fatalf("Set-Cookie %q, want %q", got, want)
	}
	w = httptest.NewRecorder()
	r.Header.Set("X-Forwarded-Proto", "https")
	clearSessionCookie(w, r)
	if got, want := w.Header().Get("Set-Cookie"), "candor_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"; got != want {
		t.Fatalf("clearing Set-Cookie %q, want %q", got, want)
	}
}
