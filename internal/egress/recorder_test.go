package egress

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
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

// A request that breaks off in the middle of its body is still recorded,
// with its headers and the bytes that arrived, under its phase.
func TestRecorderKeepsAbortedRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	rec.SetPhase("before consent")
	conn, err := net.Dial("tcp", strings.TrimPrefix(rec.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "POST /v1/x HTTP/1.1\r\nHost: x\r\nX-Install-Id: 356938035643809\r\nContent-Length: 1000\r\n\r\npartial body")
	time.Sleep(50 * time.Millisecond)
	conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rec.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if len(reqs) != 1 || reqs[0].Phase != "before consent" || reqs[0].Header.Get("X-Install-Id") != "356938035643809" ||
		string(reqs[0].Body) != "partial body" {
		t.Fatalf("recorded %+v", reqs)
	}
}

// A request for another host, sent through the recorder as a proxy, is
// recorded with that host and not forwarded.
func TestRecorderRecordsOtherHosts(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	proxy, _ := url.Parse(rec.URL())
	hc := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	resp, err := hc.Get("http://telemetry.example.invalid/collect?id=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	reqs := rec.Requests()
	if resp.StatusCode != http.StatusBadGateway || hit || len(reqs) != 1 || reqs[0].OtherHost != "telemetry.example.invalid" {
		t.Fatalf("status %d, forwarded %v, recorded %+v", resp.StatusCode, hit, reqs)
	}
}

// Each phone's URL tags its requests with the phone.
func TestRecorderTagsPhones(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	rec, err := NewRecorder(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	for _, phone := range []string{"A", "B", "A"} {
		u, err := rec.URLFor(phone)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u + "/v1/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var got []string
	for _, r := range rec.Requests() {
		got = append(got, r.Phone)
	}
	if strings.Join(got, ",") != "A,B,A" {
		t.Fatalf("phones recorded: %v", got)
	}
}
