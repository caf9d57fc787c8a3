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
	ceremonyApprove  ceremony = "approve"  // approving one request, bound to a staff member and the request
)

// pending is an issued challenge, waiting for its answer.
type pending struct {
	ceremony ceremony
	staff    string
	request  string // the access request an approval is bound to
	session  webauthn.SessionData
}

// ChallengeStore keeps waiting challenges (the directory, so that every
// instance agrees).
type ChallengeStore interface {
	PutChallenge(ctx context.Context, c store.Challenge, limit int, now time.Time) (bool, error)
	TakeChallenge(ctx context.Context, challenge string, now time.Time) (store.Challenge, error)
}

// challenges keeps the WebAuthn challenges of the ceremonies bound to a
// staff member (registration, approval) in the directory: each is taken
// once (a replayed answer finds nothing), expires after ttl, and at most
// perStaff wait for one staff member, so issuing them costs bounded
// storage; a full pool is RateLimited. Only a signed-in staff member can
// fill their own. (Sign-in challenges, asked for by anyone, are not kept:
// see signIns.)
type challenges struct {
	st       ChallengeStore
	ttl      time.Duration
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
	if p.staff == "" {
		return candor.E(candor.Internal, "a kept passkey challenge is bound to a staff member")
	}
	ok, err := c.st.PutChallenge(ctx, store.Challenge{Challenge: p.session.Challenge, Ceremony: string(p.ceremony), Staff: p.staff,
		Request: p.request, Session: session, Expires: p.session.Expires}, c.perStaff, now)
	if err != nil {
		return err
	}
	if !ok {
		return &candor.Error{Kind: candor.RateLimited, RetryAfter: c.ttl / 5,
			Message: "too many passkey challenges are waiting for this staff member: answer or let them expire"}
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
