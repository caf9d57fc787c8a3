// Package quota counts allowances — sign-ins per address, verification
// codes per account and per number, discovery lookups per account — in the
// directory, where every instance counts against the same numbers: a
// client gains nothing by reaching another instance behind the balancer.
//
// What an allowance counts (an address, a number's token, an account) is
// never stored: its key is an HMAC of the allowance's name and the
// subject under a system secret, so the table reveals neither whom it
// counts nor, to a reader of the database without the keys, which rows
// belong together across allowances.
package quota

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"time"

	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
)

// Store keeps the counts (the directory).
type Store interface {
	Spend(ctx context.Context, key []byte, now time.Time, length time.Duration, n, limit int) (store.Quota, bool, error)
	DeleteEndedQuotas(ctx context.Context, now time.Time) (int, error)
}

// Secrets gives the keyring's system secrets.
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// Allowance is one kind of allowance: at most Limit uses in Window from
// the first.
type Allowance struct {
	Name   string
	Window time.Duration
	Limit  int
}

// Wait is how long until q's window ends and the allowance is whole again.
func (a Allowance) Wait(q store.Quota, now time.Time) time.Duration {
	return max(q.Start.Add(a.Window).Sub(now), time.Second)
}

// Counter counts allowances in a Store.
type Counter struct {
	store   Store
	secrets Secrets
}

// New returns a Counter over st, keying subjects with secrets.
func New(st Store, secrets Secrets) *Counter { return &Counter{store: st, secrets: secrets} }

// Spend takes n uses of a's allowance for subject at now, unless that
// would pass a.Limit: see store.Quotas. It needs the keyring unsealed.
func (c *Counter) Spend(ctx context.Context, a Allowance, subject []byte, now time.Time, n int) (store.Quota, bool, error) {
	key, err := c.key(a, subject)
	if err != nil {
		return store.Quota{}, false, err
	}
	return c.store.Spend(ctx, key, now, a.Window, n, a.Limit)
}

// Used reads a's allowance for subject at now; it is used up when Used
// reaches a.Limit.
func (c *Counter) Used(ctx context.Context, a Allowance, subject []byte, now time.Time) (store.Quota, error) {
	q, _, err := c.Spend(ctx, a, subject, now, 0)
	return q, err
}

// GiveBack returns n uses taken by Spend (a send that did not happen).
func (c *Counter) GiveBack(ctx context.Context, a Allowance, subject []byte, now time.Time, n int) error {
	_, _, err := c.Spend(ctx, a, subject, now, -n)
	return err
}

func (c *Counter) key(a Allowance, subject []byte) ([]byte, error) {
	secret, err := c.secrets.Secret(keyring.SecretQuotaKeys)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("candor/quota/v1\x00" + a.Name + "\x00"))
	m.Write(subject)
	return m.Sum(nil), nil
}
