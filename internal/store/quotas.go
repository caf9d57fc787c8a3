package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// Quota is one allowance's use in its current window.
type Quota struct {
	Used  int
	Start time.Time // when the window began
}

// Quotas counts uses of allowances — sign-ins per address, verification
// codes per account and per number, wrong codes per account, discovery
// lookups per account — in the directory, so that every instance counts
// against the same number: a client gains nothing by reaching another
// instance. Keys are opaque bytes that the caller has made unlinkable to
// what they count (a keyed hash): no address, number or account is stored.
type Quotas interface {
	// Spend adds n uses to key's allowance unless that would take it past
	// limit, and returns the allowance after (before, when refused) and
	// whether the uses were taken. A window lasts length from its first
	// use; a key whose window began length or more before now starts a new
	// one at now. n = 0 reads (taken unless the allowance is already past
	// limit); n < 0 gives uses back, never below zero. It is one atomic
	// statement: concurrent spenders never take more than limit together.
	Spend(ctx context.Context, key []byte, now time.Time, length time.Duration, n, limit int) (Quota, bool, error)
	// DeleteEndedQuotas forgets allowances whose window ended at or
	// before now and reports how many.
	DeleteEndedQuotas(ctx context.Context, now time.Time) (int, error)
}

// Verification is a messaging verification code waiting to be typed: the
// account it was sent for and a keyed MAC binding the code to the number
// it was sent to. Neither the number nor the code is stored.
type Verification struct {
	Account candor.AccountID
	MAC     []byte
	Expires time.Time
}

// Verifications keeps the codes that wait, one per account, in the
// directory, so that a code sent by one instance can be typed at another.
type Verifications interface {
	// PutVerification replaces the account's waiting code.
	PutVerification(ctx context.Context, v Verification) error
	// Verification returns the account's waiting code; NotFound if none.
	Verification(ctx context.Context, account candor.AccountID) (Verification, error)
	// TakeVerification deletes the account's waiting code if its MAC is
	// mac and it has not expired at now, and reports whether it did: a
	// code is used once, by whichever instance is first.
	TakeVerification(ctx context.Context, account candor.AccountID, mac []byte, now time.Time) (bool, error)
	// DeleteVerification forgets the account's waiting code; absent is
	// not an error.
	DeleteVerification(ctx context.Context, account candor.AccountID) error
	// DeleteExpiredVerifications forgets codes that expired before now and
	// reports how many.
	DeleteExpiredVerifications(ctx context.Context, now time.Time) (int, error)
}
