package httpapi

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	l := newLimiter(60, 3) // one a second, bursts of three
	l.now = func() time.Time { return now }
	for i := range 3 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("over the burst: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another address was limited")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("a token did not come back after a second")
	}
	now = now.Add(time.Hour)
	l.allow("c")
	if _, kept := l.buckets["a"]; kept {
		t.Fatal("an idle, full bucket was not forgotten")
	}
	if newLimiter(-1, 5) != nil {
		t.Fatal("a negative rate does not disable the limit")
	}
}

// Behind a trusted load balancer, each client is limited by the address
// the balancer wrote in X-Forwarded-For; anyone else's X-Forwarded-For is
// ignored (a client cannot dodge its limit by writing one), and entries a
// client wrote before the balancer's are never believed.
func TestClientAddr(t *testing.T) {
	h := &Handler{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.7:5555", nil, "203.0.113.7"},
		{"203.0.113.7:5555", []string{"198.51.100.1"}, "203.0.113.7"}, // not a proxy of ours
		{"127.0.0.1:5555", nil, "127.0.0.1"},
		{"127.0.0.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"127.0.0.1:5555", []string{"192.0.2.9, 198.51.100.1"}, "198.51.100.1"}, // the client wrote the first
		{"127.0.0.1:5555", []string{"192.0.2.9", "198.51.100.1"}, "198.51.100.1"},
		{"127.0.0.1:5555", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"}, // two proxies of ours
		{"127.0.0.1:5555", []string{"10.1.2.3"}, "127.0.0.1"},                  // only proxies: limit the proxy
		{"127.0.0.1:5555", []string{"not an address"}, "127.0.0.1"},
		{"127.0.0.1:5555", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"[::ffff:10.0.0.1]:5555", []string{"2001:db8::1"}, "2001:db8::1"},
	} {
		r := httptest.NewRequest("POST", "/v1/sessions", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := h.clientAddr(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: limited as %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
