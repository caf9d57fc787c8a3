package egress

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The recorder forwards requests unchanged and keeps each with its phase.
func TestRecorderRecordsAndForwards(t *testing.T) {
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "answer "+r.URL.RequestURI())
	}))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if !strings.HasPrefix(rec.URL(), "http://127.0.0.1:") {
		t.Fatalf("recorder at %s", rec.URL())
	}
	rec.SetPhase("one")
	resp, err := http.Get(rec.URL() + "/v1/a%2Fb?x=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || string(b) != "answer /v1/a%2Fb?x=1" {
		t.Fatalf("answer %d %q", resp.StatusCode, b)
	}
	rec.SetPhase("two")
	req, _ := http.NewRequest("POST", rec.URL()+"/v1/post", strings.NewReader("hello body"))
	req.Header.Set("X-Test", "value")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotBody != "hello body" {
		t.Fatalf("server got %q", gotBody)
	}
	reqs := rec.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if r := reqs[0]; r.Phase != "one" || r.Method != "GET" || r.Path != "/v1/a%2Fb" || r.Query != "x=1" || r.Status != http.StatusTeapot {
		t.Errorf("first: %+v", r)
	}
	if r := reqs[1]; r.Phase != "two" || string(r.Body) != "hello body" || r.Header.Get("X-Test") != "value" {
		t.Errorf("second: %+v", r)
	}
}
