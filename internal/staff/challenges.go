package staff

import (
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/candorcloud/candor"
)

// A ceremony is what a WebAuthn challenge was issued for.
type ceremony string

const (
	ceremonyRegister ceremony = "register" // adding a passkey, bound to a staff member
	ceremonySignIn   ceremony = "sign-in"  // signing in to the console, bound to nobody
	ceremonyApprove  ceremony = "approve"  // approving one request, bound to a staff member and the request
)

// pending is an issued challenge, waiting for its answer.
type pending struct {
	ceremony ceremony
	staff    string // "" for a sign-in
	request  string // the access request an approval is bound to
	session  webauthn.SessionData
	expires  time.Time
}

// challenges keeps issued WebAuthn challenges in memory: each is taken
// once (a replayed answer finds nothing), expires after ttl, and their
// number is bounded — signIn in all for the unauthenticated sign-in (which
// the API also limits per address), perStaff for each staff member's
// bound ceremonies — so issuing them costs bounded memory. A full pool is
// RateLimited with the time until its oldest challenge expires.
//
// They live in this process: an answer must reach the instance that
// issued its challenge (a load balancer with session affinity for /v1/staff
// and the approval routes, or one instance serving the console).
type challenges struct {
	ttl      time.Duration
	signIn   int
	perStaff int

	mu      sync.Mutex
	byKey   map[string]*pending // by challenge (base64url, as the client echoes it)
	counts  map[string]int      // by staff id, "" for sign-ins
	oldest  map[string]time.Time
	swept   time.Time
	timeNow func() time.Time
}

func newChallenges(ttl time.Duration, signIn, perStaff int, now func() time.Time) *challenges {
	return &challenges{ttl: ttl, signIn: signIn, perStaff: perStaff, byKey: map[string]*pending{}, counts: map[string]int{},
		oldest: map[string]time.Time{}, timeNow: now}
}

// sweep forgets expired challenges; c.mu is held.
func (c *challenges) sweep(now time.Time) {
	clear(c.oldest)
	for k, p := range c.byKey {
		if !now.Before(p.expires) {
			delete(c.byKey, k)
			if c.counts[p.staff]--; c.counts[p.staff] <= 0 {
				delete(c.counts, p.staff)
			}
			continue
		}
		if o, ok := c.oldest[p.staff]; !ok || p.expires.Before(o) {
			c.oldest[p.staff] = p.expires
		}
	}
	c.swept = now
}

// put keeps p under its challenge, or refuses when its pool is full.
func (c *challenges) put(p pending) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.timeNow()
	limit := c.perStaff
	if p.staff == "" {
		limit = c.signIn
	}
	if c.counts[p.staff] >= limit || now.Sub(c.swept) > c.ttl {
		c.sweep(now)
	}
	if c.counts[p.staff] >= limit {
		wait := max(c.oldest[p.staff].Sub(now), time.Second)
		msg := "too many passkey challenges are waiting for this staff member: answer or let them expire"
		if p.staff == "" {
			msg = "too many passkey sign-ins are waiting: try again shortly"
		}
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: wait, Message: msg}
	}
	p.expires = now.Add(c.ttl)
	p.session.Expires = p.expires
	c.byKey[p.session.Challenge] = &p
	c.counts[p.staff]++
	return nil
}

// take removes and returns the challenge an answer echoes; ok is false if
// it was never issued, was taken already or has expired.
func (c *challenges) take(challenge string) (pending, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.byKey[challenge]
	if !ok {
		return pending{}, false
	}
	delete(c.byKey, challenge)
	if c.counts[p.staff]--; c.counts[p.staff] <= 0 {
		delete(c.counts, p.staff)
	}
	if !c.timeNow().Before(p.expires) {
		return pending{}, false
	}
	return *p, true
}
