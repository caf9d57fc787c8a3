package consent

import (
	"context"
	"fmt"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Store is what the ledger needs of a region store.
type Store interface {
	AppendConsent(ctx context.Context, e store.ConsentEvent) (store.ConsentEvent, error)
	ConsentLedger(ctx context.Context, account candor.AccountID) ([]store.ConsentEvent, error)
	ConsentState(ctx context.Context, account candor.AccountID) (map[candor.Category]store.ConsentEvent, error)
}

// Stores resolves a region's store.
type Stores interface {
	Consent(region candor.RegionID) (Store, error)
}

// Shredder destroys the keys of a category's data that live outside the
// region's database (package keyring).
type Shredder interface {
	Shred(ctx context.Context, p candor.Principal, c candor.Category) error
}

// Ledger records and answers consent.
type Ledger struct {
	stores Stores
	shred  Shredder
	now    func() time.Time
}

// NewLedger returns a Ledger over the region stores that shreds with shred.
func NewLedger(stores Stores, shred Shredder, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{stores: stores, shred: shred, now: now}
}

// Set turns category c on or off for p's account, from p's device, under a
// policy version. Setting the state a category already has appends nothing
// and returns the event that set it. Turning a category off deletes its
// data in the cloud before Set returns.
func (l *Ledger) Set(ctx context.Context, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	if !c.Valid() {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "unknown category")
	}
	if policy == "" {
		policy = candor.PolicyVersion
	}
	if len(policy) > 64 {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "the policy version is too long")
	}
	if c == candor.Messaging && on && ctx.Value(activationKey{}) == nil {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "messaging is turned on by activation, which verifies the phone's number: POST /v1/messaging/verification, then /v1/messaging/activation")
	}
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	state, err := st.ConsentState(ctx, p.Account)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	if cur, ok := state[c]; ok && cur.On == on {
		if !on { // off already: make sure the shredding finished (it may not have, if it failed or the process died)
			return cur, l.shred.Shred(ctx, p, c)
		}
		return cur, nil
	}
	if _, ok := state[c]; !ok && !on {
		return store.ConsentEvent{Account: p.Account, Category: c}, nil // never on: nothing to withdraw
	}
	ev, err := st.AppendConsent(ctx, store.ConsentEvent{
		Account: p.Account, Category: c, On: on, Device: p.Device, Time: l.now().UTC(), PolicyVersion: policy,
	})
	if err != nil || on {
		return ev, err
	}
	// The records and the region's half of the key went with the event;
	// now the directory's half, so that no earlier copy of the region's
	// database can be opened either.
	if err := l.shred.Shred(ctx, p, c); err != nil {
		return ev, fmt.Errorf("consent withdrawn and data deleted, but shredding failed: %w", err)
	}
	return ev, nil
}

type activationKey struct{}

// WithActivation marks ctx as a completed messaging activation (the phone's
// number verified, its keys published): the only context in which Set may
// turn messaging on.
func WithActivation(ctx context.Context) context.Context {
	return context.WithValue(ctx, activationKey{}, true)
}

// State returns the latest event per category of p's account.
func (l *Ledger) State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error) {
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return nil, err
	}
	return st.ConsentState(ctx, p.Account)
}

// Events returns p's account's whole ledger, oldest first.
func (l *Ledger) Events(ctx context.Context, p candor.Principal) ([]store.ConsentEvent, error) {
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return nil, err
	}
	return st.ConsentLedger(ctx, p.Account)
}

// Check returns the consent epoch of category c for p's account, or the
// consent_required error that names it.
func (l *Ledger) Check(ctx context.Context, p candor.Principal, c candor.Category) (int64, error) {
	state, err := l.State(ctx, p)
	if err != nil {
		return 0, err
	}
	return Decide(c, state)
}
