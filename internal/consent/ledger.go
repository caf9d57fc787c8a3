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
	AppendConsent(ctx context.Context, rec store.AuditRecord, e store.ConsentEvent) (store.ConsentEvent, error)
	ConsentLedger(ctx context.Context, rec store.AuditRecord, account candor.AccountID) ([]store.ConsentEvent, error)
	ConsentState(ctx context.Context, account candor.AccountID) (map[candor.Category]store.ConsentEvent, error)
}

// Stores resolves a region's store.
type Stores interface {
	Consent(region candor.RegionID) (Store, error)
}

// Shredder destroys what a withdrawn category leaves outside the region's
// database: the directory's half of its data key and its blobs (package
// keyring, the blob store), or a messaging registration.
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
// policy version, and appends rec (the request, also when it changes
// nothing) in the same transaction. Setting the state a category already
// has appends no event and returns the event that set it. Turning a
// category off deletes its data in the cloud before Set returns (again, if
// it was off already, in case an earlier deletion did not finish).
// Messaging is turned on only by Activate.
func (l *Ledger) Set(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	if c == candor.Messaging && on {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "messaging is turned on by activation, which verifies the phone's number: POST /v1/messaging/verification, then /v1/messaging/activation")
	}
	return l.set(ctx, rec, p, c, on, policy)
}

// Activate turns messaging on for p's account and returns the event that
// did (its Seq is the grant's epoch). Only package messaging calls it, once
// the phone's number is verified and its keys are published; rec is the
// record of that activation, appended in the same transaction.
func (l *Ledger) Activate(ctx context.Context, rec store.AuditRecord, p candor.Principal) (store.ConsentEvent, error) {
	return l.set(ctx, rec, p, candor.Messaging, true, "")
}

func (l *Ledger) set(ctx context.Context, rec store.AuditRecord, p candor.Principal, c candor.Category, on bool, policy string) (store.ConsentEvent, error) {
	if !c.Valid() {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "unknown category")
	}
	if policy == "" {
		policy = candor.PolicyVersion
	}
	if len(policy) > 64 {
		return store.ConsentEvent{}, candor.E(candor.Invalid, "the policy version is too long")
	}
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return store.ConsentEvent{}, err
	}
	ev, err := st.AppendConsent(ctx, rec, store.ConsentEvent{
		Account: p.Account, Category: c, On: on, Device: p.Device, Time: l.now().UTC(), PolicyVersion: policy,
	})
	if err != nil || on || ev.Seq == 0 { // on, or never on: nothing to shred
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

// State returns the latest event per category of p's account. It is not an
// access to personal data (every sync reads it) and is not logged.
func (l *Ledger) State(ctx context.Context, p candor.Principal) (map[candor.Category]store.ConsentEvent, error) {
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return nil, err
	}
	return st.ConsentState(ctx, p.Account)
}

// Events returns p's account's whole ledger, oldest first, and appends rec
// in the same transaction.
func (l *Ledger) Events(ctx context.Context, rec store.AuditRecord, p candor.Principal) ([]store.ConsentEvent, error) {
	st, err := l.stores.Consent(p.Region)
	if err != nil {
		return nil, err
	}
	return st.ConsentLedger(ctx, rec, p.Account)
}

// Check returns the grant of category c for p's account, or the
// consent_required error that names it: the one way to obtain a Grant for
// a category a person turned on.
func (l *Ledger) Check(ctx context.Context, p candor.Principal, c candor.Category) (Grant, error) {
	state, err := l.State(ctx, p)
	if err != nil {
		return Grant{}, err
	}
	epoch, err := Decide(c, state)
	if err != nil {
		return Grant{}, err
	}
	return Grant{p: p, c: c, epoch: epoch}, nil
}
