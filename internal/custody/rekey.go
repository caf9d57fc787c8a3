package custody

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"time"

	"github.com/openbao/openbao/sdk/v2/helper/shamir"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// RekeyStatus is a rekey waiting for the current custodians' shares.
type RekeyStatus struct {
	Shares, Threshold int // the new split
	Submitted         int // current shares offered so far
	Needed            int // current shares needed (the current threshold)
	// CustodianKeys are the age public keys the new shares will be
	// encrypted to, so that the custodians authorising the rekey see whom
	// they authorise it for (none: the shares are returned in the clear).
	CustodianKeys []string
}

// StartRekey begins replacing the root key with a new one split into n
// shares of which k unseal, optionally each encrypted to a custodian's age
// key. Nothing changes until the current custodians authorise it by
// offering threshold-many current shares (SubmitRekey): no single person,
// staff token or not, can rekey alone. The server must be unsealed. A rekey
// already waiting is Conflict (cancel it first).
func (c *Ceremony) StartRekey(ctx context.Context, n, k int, recipients []string) (Status, error) {
	switch {
	case k < 2 || n < k || n > MaxShares:
		return Status{}, candor.Errorf(candor.Invalid, "shares and threshold must satisfy 2 <= threshold <= shares <= %d", MaxShares)
	case len(recipients) > 0 && len(recipients) != n:
		return Status{}, candor.Errorf(candor.Invalid, "give one custodian key per share: %d keys for %d shares", len(recipients), n)
	case c.keys.Sealed():
		return Status{}, candor.ErrSealed
	}
	recips, err := parseRecipients(recipients)
	if err != nil {
		return Status{}, err
	}
	c.mu.Lock()
	if c.rekey != nil {
		c.mu.Unlock()
		return Status{}, candor.E(candor.Conflict, "a rekey is waiting for shares already: finish or cancel it first")
	}
	c.rekey = &rekey{n: n, k: k, recipients: recips, keys: publicKeys(recipients)}
	c.mu.Unlock()
	started := audit.KeyEvent(audit.ActorStaff, audit.ActionRekey, nil)
	started.Code = "started: waiting for the current custodians' shares"
	if err := c.logs.Append(ctx, audit.Directory, started); err != nil {
		c.CancelRekey()
		return Status{}, err
	}
	return c.Status(ctx)
}

// CancelRekey drops a waiting rekey and the shares offered for it.
func (c *Ceremony) CancelRekey() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rekey != nil {
		for _, s := range c.rekey.shares {
			clear(s)
		}
		c.rekey = nil
	}
}

// SubmitRekey offers one current share towards the waiting rekey. When
// enough are offered they are combined and checked against the current
// root key's check value; then a new root key is made, split as asked, and
// committed with the master key re-wrapped under it, in one transaction.
// It returns the new shares (each once) when the rekey is done, and nil
// before. From then on only the new shares unseal the server. Shares that
// do not rebuild the current root key abort the rekey (Forbidden).
func (c *Ceremony) SubmitRekey(ctx context.Context, text string) (Status, []string, error) {
	cust, err := c.dir.Custody(ctx)
	if err != nil {
		return Status{}, nil, err
	}
	share, err := DecodeShare(text)
	if err != nil {
		return Status{}, nil, err
	}
	if !slices.ContainsFunc(cust.ShareHashes, func(h []byte) bool { return bytes.Equal(h, shareHash(share)) }) {
		return Status{}, nil, candor.E(candor.Forbidden, "this share does not belong to this server's current root key")
	}
	c.mu.Lock()
	r := c.rekey
	if r == nil {
		c.mu.Unlock()
		return Status{}, nil, candor.E(candor.Conflict, "no rekey is waiting: start one with 'candor operator rekey'")
	}
	if slices.ContainsFunc(r.shares, func(p []byte) bool { return bytes.Equal(p, share) }) {
		c.mu.Unlock()
		return Status{}, nil, candor.E(candor.Conflict, "this share was offered already: the next custodian's share is needed")
	}
	r.shares = append(r.shares, share)
	if len(r.shares) < cust.Threshold {
		c.mu.Unlock()
		st, err := c.Status(ctx)
		return st, nil, err
	}
	c.rekey = nil // whatever happens next, this rekey is over
	c.mu.Unlock()

	shares, err := c.commitRekey(ctx, cust, r)
	if err != nil {
		return Status{}, nil, err
	}
	st, err := c.Status(ctx)
	return st, shares, err
}

func (c *Ceremony) commitRekey(ctx context.Context, cust store.Custody, r *rekey) ([]string, error) {
	old, err := shamir.Combine(r.shares)
	for _, s := range r.shares {
		clear(s)
	}
	if err == nil {
		err = c.keys.CheckRoot(ctx, old)
		clear(old)
	}
	if err != nil {
		return nil, candor.E(candor.Forbidden, "the shares offered do not rebuild the current root key; the rekey is cancelled")
	}
	root := make([]byte, rootSize)
	rand.Read(root)
	defer clear(root)
	parts, err := shamir.Split(root, r.n, r.k)
	if err != nil {
		return nil, err
	}
	next := store.Custody{RootVersion: cust.RootVersion + 1, Shares: r.n, Threshold: r.k, Created: time.Now().UTC()}
	for _, p := range parts {
		next.ShareHashes = append(next.ShareHashes, shareHash(p))
	}
	keys, err := c.keys.Rekeyed(root, next.RootVersion)
	if err != nil {
		return nil, err
	}
	if err := c.dir.Rekey(ctx, c.logs.Record(audit.KeyEvent(audit.ActorCustodians, audit.ActionRekey, nil)), next, keys); err != nil {
		return nil, err
	}
	c.keys.SetRootVersion(next.RootVersion)
	return present(parts, r.recipients)
}
