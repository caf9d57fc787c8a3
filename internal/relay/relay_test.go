package relay_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/relay"
)

// failed records what Forward's fail was given.
type failed struct{ err error }

func (f *failed) fail(w http.ResponseWriter, r *http.Request, err error) {
	f.err = err
	w.WriteHeader(599)
}

func TestForward(t *testing.T) {
	var got *http.Request
	var body string
	sg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.Header().Set("Set-Cookie", "candor_session=x")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "from sg")
	}))
	defer sg.Close()
	rl, err := relay.New([]candor.RegionID{"in"}, []relay.Region{{ID: "in", URL: "http://in.invalid"}, {ID: "sg", URL: sg.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if !rl.Serves("in") || rl.Serves("sg") {
		t.Fatal("Serves")
	}

	req := httptest.NewRequest("POST", "https://candor.example.org/v1/sessions?x=1", strings.NewReader(`{"handle":"aGk="}`))
	req.RemoteAddr = "10.0.0.7:4242"
	req.Header.Set("Authorization", "Bearer cdt_secret")
	req.Header.Set("X-Forwarded-For", "198.51.100.9")
	req.Header.Set("X-Forwarded-Proto", "https")
	w := httptest.NewRecorder()
	var f failed
	rl.Forward(w, req, "sg", f.fail)
	switch {
	case f.err != nil:
		t.Fatalf("failed: %v", f.err)
	case w.Code != http.StatusCreated || w.Body.String() != "from sg" || w.Header().Get("Set-Cookie") == "":
		t.Fatalf("answer %d %q %v", w.Code, w.Body, w.Header())
	case got.Method != "POST" || got.URL.Path != "/v1/sessions" || got.URL.RawQuery != "x=1" || body != `{"handle":"aGk="}`:
		t.Fatalf("relayed %s %s %q", got.Method, got.URL, body)
	case got.Header.Get("Authorization") != "Bearer cdt_secret":
		t.Fatal("the client's credentials were not relayed")
	case got.Host != "candor.example.org":
		t.Fatalf("Host %q, want the client's", got.Host)
	case got.Header.Get("X-Forwarded-For") != "198.51.100.9, 10.0.0.7":
		t.Fatalf("X-Forwarded-For %q", got.Header.Get("X-Forwarded-For"))
	case got.Header.Get("X-Forwarded-Proto") != "https":
		t.Fatalf("X-Forwarded-Proto %q", got.Header.Get("X-Forwarded-Proto"))
	case got.Header.Get(relay.Relayed) != "1":
		t.Fatal("not marked relayed")
	}

	// Relayed once already: not again.
	req = httptest.NewRequest("GET", "/v1/account", nil)
	req.Header.Set(relay.Relayed, "1")
	f = failed{}
	rl.Forward(httptest.NewRecorder(), req, "sg", f.fail)
	if !candor.Is(f.err, candor.WrongRegion) {
		t.Fatalf("a relayed request relayed again: %v", f.err)
	}
	// A region with no URL.
	f = failed{}
	rl.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/account", nil), "us", f.fail)
	if !candor.Is(f.err, candor.WrongRegion) {
		t.Fatalf("a region with no url: %v", f.err)
	}
	// A region that does not answer: retryable.
	sg.Close()
	f = failed{}
	rl.Forward(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/account", nil), "sg", f.fail)
	var e *candor.Error
	if !candor.Is(f.err, candor.Unavailable) || !asError(f.err, &e) || e.RetryAfter == 0 {
		t.Fatalf("a region that does not answer: %v", f.err)
	}
}

func asError(err error, e **candor.Error) bool {
	ce, ok := err.(*candor.Error)
	*e = ce
	return ok
}
