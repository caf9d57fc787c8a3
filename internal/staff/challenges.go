package staff

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
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
}

// ChallengeStore keeps waiting challenges (the directory, so that every
// instance agrees).
type ChallengeStore interface {
	PutChallenge(ctx context.Context, c store.Challenge, limit int, now time.Time) (bool, error)
	TakeChallenge(ctx context.Context, challenge string, now time.Time) (store.Challenge, error)
}

// challenges keeps issued WebAuthn challenges in the directory: each is
// taken once (a replayed answer finds nothing), expires after ttl, and
// their number is bounded — signIn in all for the unauthenticated sign-in
// (which the API also limits per address), perStaff for each staff
// member's bound ceremonies — so issuing them costs bounded storage. A
// full pool is RateLimited.
type challenges struct {
	st       ChallengeStore
	ttl      time.Duration
	signIn   int
	perStaff int
	now      func() time.Time
}

// put keeps p under its challenge, or refuses when its pool is full.
func (c *challenges) put(ctx context.Context, p pending) error {
	now := c.now()
	p.session.Expires = now.Add(c.ttl)
	session, err := json.Marshal(p.session)
	if err != nil {
		return candor.Wrap(candor.Internal, "encode a passkey challenge", err)
	}
	limit := c.perStaff
	if p.staff == "" {
		limit = c.signIn
	}
	ok, err := c.st.PutChallenge(ctx, store.Challenge{Challenge: p.session.Challenge, Ceremony: string(p.ceremony), Staff: p.staff,
		Request: p.request, Session: session, Expires: p.session.Expires}, limit, now)
	if err != nil {
		return err
	}
	if !ok {
		msg := "too many passkey challenges are waiting for this staff member: answer or let them expire"
		if p.staff == "" {
			msg = "too many passkey sign-ins are waiting: try again shortly"
		}
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: c.ttl / 5, Message: msg}
	}
	return nil
}

// take removes and returns the challenge an answer echoes; ok is false if
// it was never issued, was taken already or has expired.
func (c *challenges) take(ctx context.Context, challenge string) (pending, bool, error) {
	if challenge == "" || len(challenge) > 256 {
		return pending{}, false, nil
	}
	sc, err := c.st.TakeChallenge(ctx, challenge, c.now())
	if candor.Is(err, candor.NotFound) {
		return pending{}, false, nil
	} else if err != nil {
		return pending{}, false, err
	}
	p := pending{ceremony: ceremony(sc.Ceremony), staff: sc.Staff, request: sc.Request}
	if err := json.Unmarshal(sc.Session, &p.session); err != nil {
		return pending{}, false, candor.Wrap(candor.Internal, "decode a passkey challenge", err)
	}
	return p, true, nil
}
