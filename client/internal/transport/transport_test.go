package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestDoSendsJSONAndDecodesTheAnswer(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prefix/v1/things" || r.Method != http.MethodPost {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		for name, want := range map[string]string{
			"Authorization": "Bearer tok", "User-Agent": "candor/1",
			"Content-Type": "application/json", "Accept": "application/json",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		json.NewEncoder(w).Encode(map[string]string{"echo": in["say"]})
	})
	var out map[string]string
	if err := New(srv.URL+"/prefix", srv.Client(), "tok").Do(t.Context(), http.MethodPost, "/things", map[string]string{"say": "hi"}, &out); err != nil {
		t.Fatal(err)
	}
	if out["echo"] != "hi" {
		t.Errorf("answer = %v", out)
	}
}

func TestDoWithoutTokenSendsNoAuthorization(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Authorization"]; ok {
			t.Error("an Authorization header without a token")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	if err := New(srv.URL, srv.Client(), "").Do(t.Context(), http.MethodGet, "/x", nil, &struct{}{}); err != nil {
		t.Fatal(err)
	}
}

func TestErrorOf(t *testing.T) {
	body := func(e api.Error) io.Reader {
		b, _ := json.Marshal(api.ErrorResponse{Error: e})
		return bytes.NewReader(b)
	}
	for _, tc := range []struct {
		name     string
		status   int
		body     io.Reader
		kind     candor.Kind
		message  string
		category candor.Category
	}{
		{"candor body", 403, body(api.Error{Code: "consent_required", Message: "sms is off", Category: "sms"}), candor.ConsentRequired, "sms is off", candor.SMS},
		{"code only", 409, body(api.Error{Code: "wrong_region"}), candor.WrongRegion, "wrong region", ""},
		{"unknown code", 400, body(api.Error{Code: "from_the_future", Message: "new"}), candor.Internal, "new", ""},
		{"proxy page", 502, strings.NewReader("<html>Bad Gateway: Saffron-kettle</html>"), candor.Unavailable, "the server answered HTTP 502", ""},
		{"empty 404", 404, strings.NewReader(""), candor.NotFound, "the server answered HTTP 404", ""},
		{"json without code", 429, strings.NewReader(`{"error":{}}`), candor.RateLimited, "the server answered HTTP 429", ""},
		{"odd status", 418, strings.NewReader(""), candor.Internal, "the server answered HTTP 418", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ce *candor.Error
			if err := ErrorOf(tc.status, tc.body); !errors.As(err, &ce) || ce.Kind != tc.kind || ce.Message != tc.message || ce.Category != tc.category {
				t.Errorf("ErrorOf = %#v, want %s %q %q", err, tc.kind, tc.message, tc.category)
			}
		})
	}
}

// A server that says it is briefly unavailable is asked again; one that
// cannot be reached is asked again too, and then the failure names it.
func TestDoRetriesWhileUnavailable(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.Error{Code: "unavailable", Message: "moving"}})
			return
		}
		io.WriteString(w, `{}`)
	})
	if err := New(srv.URL, srv.Client(), "").Do(t.Context(), http.MethodGet, "/x", nil, &struct{}{}); err != nil || calls.Load() != 3 {
		t.Errorf("Do = %v after %d calls, want success after 3", err, calls.Load())
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	var ce *candor.Error
	err := New(dead.URL, http.DefaultClient, "").Do(t.Context(), http.MethodGet, "/x", nil, nil)
	if !errors.As(err, &ce) || ce.Kind != candor.Unavailable || ce.Err == nil || ce.Message != "cannot reach the server" {
		t.Errorf("unreachable: %#v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := New(srv.URL, srv.Client(), "").Do(ctx, http.MethodGet, "/x", nil, nil); !candor.Is(err, candor.Unavailable) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRaw(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/octet-stream" || r.ContentLength != 3 || string(b) != "abc" {
			t.Errorf("raw request: %q, %d bytes, %q", r.Header.Get("Content-Type"), r.ContentLength, b)
		}
		if r.URL.Path == "/v1/full" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, `{"n": 3}`)
	})
	a := New(srv.URL, srv.Client(), "tok")
	var out struct{ N int }
	if err := a.Raw(t.Context(), http.MethodPut, "/part", strings.NewReader("abc"), 3, &out); err != nil || out.N != 3 {
		t.Errorf("Raw = %v, %+v", err, out)
	}
	if err := a.Raw(t.Context(), http.MethodPut, "/full", strings.NewReader("abc"), 3, nil); !candor.Is(err, candor.TooLarge) {
		t.Errorf("Raw to a full server: %v", err)
	}
}

func TestDownloadFrom(t *testing.T) {
	const object = "0123456789"
	ranges := true
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/blob" {
			http.NotFound(w, r)
			return
		}
		if !ranges {
			r.Header.Del("Range")
		}
		http.ServeContent(w, r, "blob", time.Time{}, strings.NewReader(object))
	})
	a := New(srv.URL, srv.Client(), "tok")
	get := func(offset int64) (string, bool, error) {
		var b bytes.Buffer
		var from bool
		err := a.DownloadFrom(t.Context(), "/blob", offset, func(f bool) (io.Writer, error) { from = f; return &b, nil })
		return b.String(), from, err
	}
	if got, from, err := get(0); err != nil || got != object || from {
		t.Errorf("whole: %q, %v, %v", got, from, err)
	}
	if got, from, err := get(4); err != nil || got != "456789" || !from {
		t.Errorf("from 4: %q, %v, %v", got, from, err)
	}
	ranges = false
	if got, from, err := get(4); err != nil || got != object || from {
		t.Errorf("from 4, ranges ignored: %q, %v, %v", got, from, err)
	}
	if err := a.DownloadFrom(t.Context(), "/none", 0, nil); !candor.Is(err, candor.NotFound) {
		t.Errorf("missing: %v", err)
	}
}

func TestFetchPublicIdentifiesNobody(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" || r.Header.Get("User-Agent") != "candor/1" {
			t.Errorf("headers %v", r.Header)
		}
		http.SetCookie(w, &http.Cookie{Name: "track", Value: "me"})
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.ErrorResponse{Error: api.Error{Code: "not_found", Message: "no such locale"}})
			return
		}
		io.WriteString(w, "0123456789")
	})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	for range 2 {
		if b, err := GetPublic(t.Context(), hc, srv.URL+"/x", 10); err != nil || string(b) != "0123456789" {
			t.Fatalf("GetPublic = %q, %v", b, err)
		}
	}
	if _, err := GetPublic(t.Context(), hc, srv.URL+"/x", 9); !candor.Is(err, candor.TooLarge) {
		t.Errorf("over the limit: %v", err)
	}
	if _, err := GetPublic(t.Context(), hc, srv.URL+"/missing", 100); !candor.Is(err, candor.NotFound) || !strings.Contains(err.Error(), "no such locale") {
		t.Errorf("missing: %v", err)
	}
	if status, _, err := FetchPublic(t.Context(), hc, srv.URL+"/missing", 100); err != nil || status != http.StatusNotFound {
		t.Errorf("FetchPublic of a 404 = %d, %v", status, err)
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"example.com": false, "10.0.0.1": false, "localhost.example.com": false, "": false,
	} {
		if got := Loopback(host); got != want {
			t.Errorf("Loopback(%q) = %v", host, got)
		}
	}
}
