package davclients

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingProxy is a reverse proxy on 127.0.0.1 in front of a CardDAV
// server. It counts the requests by method and adds up the time the server
// took to answer them, so a test can prove what a sync transferred and a
// benchmark can say where the time went.
type countingProxy struct {
	URL string // the proxy's address, with the target's path

	mu    sync.Mutex
	stats map[string]*methodStats
}

// methodStats is what the proxy saw of one HTTP method.
type methodStats struct {
	Count    int
	Statuses map[int]int
	Server   time.Duration // summed from request sent to response body read
	Bytes    int64         // request and response bodies
}

// newCountingProxy starts a proxy to target (a URL with a path) and stops
// it when the test ends.
func newCountingProxy(t testing.TB, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{stats: make(map[string]*methodStats)}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = u.Scheme, u.Host
			r.Out.Host = u.Host
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		in := r.ContentLength
		rp.ServeHTTP(cw, r)
		p.record(r.Method, cw.status, time.Since(start), max(in, 0)+cw.n)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + u.Path
	return p
}

func (p *countingProxy) record(method string, status int, d time.Duration, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats[method]
	if s == nil {
		s = &methodStats{Statuses: make(map[int]int)}
		p.stats[method] = s
	}
	s.Count++
	s.Statuses[status]++
	s.Server += d
	s.Bytes += n
}

// Take returns what the proxy saw since the last Take, and starts afresh.
func (p *countingProxy) Take() requestStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := requestStats(p.stats)
	p.stats = make(map[string]*methodStats)
	return s
}

// requestStats is what a proxy saw, by method.
type requestStats map[string]*methodStats

// Count returns the number of requests with method.
func (s requestStats) Count(method string) int {
	if m := s[method]; m != nil {
		return m.Count
	}
	return 0
}

// Total returns the number of requests and the server's summed time.
func (s requestStats) Total() (n int, d time.Duration) {
	for _, m := range s {
		n += m.Count
		d += m.Server
	}
	return n, d
}

// String lists the methods as "PUT 1000 (201×1000) 2.1s 1.2MB".
func (s requestStats) String() string {
	methods := make([]string, 0, len(s))
	for m := range s {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	var parts []string
	for _, m := range methods {
		st := s[m]
		codes := make([]int, 0, len(st.Statuses))
		for c := range st.Statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var cs []string
		for _, c := range codes {
			cs = append(cs, fmt.Sprintf("%d×%d", c, st.Statuses[c]))
		}
		parts = append(parts, fmt.Sprintf("%s %d (%s) %.2fs %.1fkB", m, st.Count, strings.Join(cs, " "),
			st.Server.Seconds(), float64(st.Bytes)/1000))
	}
	if len(parts) == 0 {
		return "no requests"
	}
	return strings.Join(parts, "; ")
}

// countingWriter records the status and the body size of a response.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
