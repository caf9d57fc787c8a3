package content

import (
	"context"

	"github.com/candorcloud/candor/internal/custody"
)

// Waker starts the server's background work at once (upkeep.Loop).
type Waker interface {
	Wake()
}

// Ceremony is the key ceremony with the update repository's signing keys
// kept in step with the keyring: a seal takes them away at once, and an
// Init or Submit that leaves the keyring unsealed gives them back at once
// (making the repository the first time) and wakes the background work,
// so that anonymous requests never have to trigger key work and nothing
// waits for the next background pass.
//
// It forwards every method of the ceremony explicitly: a method added to
// custody.Ceremony is not served until it is added here.
type Ceremony struct {
	next    *custody.Ceremony
	content *Service
	wake    Waker
}

// NewCeremony wraps the key ceremony next.
func NewCeremony(next *custody.Ceremony, content *Service, wake Waker) *Ceremony {
	return &Ceremony{next: next, content: content, wake: wake}
}

// Status is custody.Ceremony.Status.
func (c *Ceremony) Status(ctx context.Context) (custody.Status, error) {
	return c.next.Status(ctx)
}

// Init is custody.Ceremony.Init; the server it leaves unsealed gets its
// update signing keys at once.
func (c *Ceremony) Init(ctx context.Context, n, k int, recipients []string) ([]string, error) {
	shares, err := c.next.Init(ctx, n, k, recipients)
	if err == nil {
		c.unsealed()
	}
	return shares, err
}

// Submit is custody.Ceremony.Submit; the share that unseals the server
// gives it its update signing keys at once.
func (c *Ceremony) Submit(ctx context.Context, share string) (custody.Status, error) {
	st, err := c.next.Submit(ctx, share)
	if err == nil {
		c.unsealed()
	}
	return st, err
}

// Seal is custody.Ceremony.Seal, and takes the update signing keys away
// at once, whatever the seal returns.
func (c *Ceremony) Seal(ctx context.Context, by string) error {
	defer c.content.LockOTA()
	return c.next.Seal(ctx, by)
}

// StartRekey is custody.Ceremony.StartRekey: a rekey changes nothing
// below the master key, so the signing keys stay as they are.
func (c *Ceremony) StartRekey(ctx context.Context, n, k int, recipients []string) (custody.Status, error) {
	return c.next.StartRekey(ctx, n, k, recipients)
}

// SubmitRekey is custody.Ceremony.SubmitRekey.
func (c *Ceremony) SubmitRekey(ctx context.Context, share string) (custody.Status, []string, error) {
	return c.next.SubmitRekey(ctx, share)
}

// CancelRekey is custody.Ceremony.CancelRekey.
func (c *Ceremony) CancelRekey() { c.next.CancelRekey() }

// unsealed does what cannot wait for the next background pass once the
// keyring is unsealed: a Submit short of the threshold leaves it sealed
// and does nothing here.
func (c *Ceremony) unsealed() {
	if c.content.keys.Sealed() {
		return
	}
	if err := c.content.RenewOTA(); err != nil {
		c.content.log.Error("re-signing update metadata failed; will retry", "err", err)
	}
	c.wake.Wake()
}
