package httpapi

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/quota"
	"github.com/candorcloud/candor/internal/store"
)

// limiter is a token bucket per client address, kept in memory only: the
// address is never logged or stored. It slows down guessing through the
// unauthenticated endpoints (evaluating login handles, salts, signups,
// logins), which the per-handle login throttle alone does not cover.
type limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter allows perMinute requests a minute per address, in bursts of up
// to burst. perMinute <= 0 disables it.
func newLimiter(perMinute, burst int) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{rate: float64(perMinute) / 60, burst: float64(max(burst, 1)), buckets: map[string]*bucket{}, now: time.Now}
}

// allow takes a token for key, or says how long until one is free.
func (l *limiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Minute { // forget idle, full buckets
		for k, b := range l.buckets {
			if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// Allowances counts allowances in the directory, across every instance
// (quota.Counter).
type Allowances interface {
	Spend(ctx context.Context, a quota.Allowance, subject []byte, now time.Time, n int) (store.Quota, bool, error)
}

// limited wraps an unauthenticated endpoint with the per-address limit:
// first this instance's token bucket, which costs nothing, then the
// address's allowance in the directory, which every instance behind the
// balancer spends alike (at most a minute's rate and a burst, a minute),
// so a client gains nothing by reaching several. While the directory
// cannot count (sealed, unreachable), the bucket alone applies: those
// endpoints fail then anyway.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	if h.limit == nil {
		return next
	}
	shared := quota.Allowance{Name: "http/sign-in-per-address", Window: time.Minute, Limit: h.limit.perMinute()}
	return func(w http.ResponseWriter, r *http.Request) {
		addr := h.clientAddr(r)
		ok, wait := h.limit.allow(addr)
		if ok && h.svc.Allowances != nil {
			now := time.Now()
			if q, taken, err := h.svc.Allowances.Spend(r.Context(), shared, []byte(addr), now, 1); err == nil && !taken {
				ok, wait = false, shared.Wait(q, now)
			}
		}
		if !ok {
			h.writeError(w, r, &candor.Error{Kind: candor.RateLimited, RetryAfter: wait,
				Message: "too many sign-in requests from this address: slow down"})
			return
		}
		next(w, r)
	}
}

// perMinute is the most a client can take of a full bucket in a minute.
func (l *limiter) perMinute() int { return int(l.rate*60 + l.burst) }

// maxForwarded bounds how many X-Forwarded-For entries are read, from the
// right: enough for any chain of proxies an operator runs.
const maxForwarded = 16

// clientAddr is the address a request is limited by: its peer's, unless
// the peer is a trusted proxy (Options.TrustedProxies), then the nearest
// address in X-Forwarded-For, read from the right, that is not a trusted
// proxy. Entries left of it are the client's to write, and so are never
// believed; a peer that is not a trusted proxy cannot name another
// address at all.
func (h *Handler) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !h.trusted(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwarded; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a proxy of ours wrote nothing readable: limit the proxy
		}
		if a = a.Unmap(); !h.trusted(a) {
			return a.String()
		}
	}
	return host
}

func (h *Handler) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
