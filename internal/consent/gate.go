package consent

import (
	"context"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
)

// Records is the service the gate guards.
type Records interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, epoch, since int64, limit int) (records.Feed, error)
}

// Gate refuses every push and pull of a category that is off.
type Gate struct {
	ledger *Ledger
	next   Records
}

// NewGate returns next guarded by the ledger.
func NewGate(ledger *Ledger, next Records) *Gate { return &Gate{ledger: ledger, next: next} }

var _ Records = (*Gate)(nil)

// Push forwards to the records service only if c is on. The device's epoch
// is passed through; the store refuses it inside the write transaction
// unless it is the current one.
func (g *Gate) Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error) {
	if _, err := g.ledger.Check(ctx, p, c); err != nil {
		return records.Pushed{}, err
	}
	return g.next.Push(ctx, p, c, epoch, changes)
}

// Pull forwards to the records service only if c is on, for the current
// consent epoch (the epoch argument is ignored: the gate supplies it).
func (g *Gate) Pull(ctx context.Context, p candor.Principal, c candor.Category, _, since int64, limit int) (records.Feed, error) {
	epoch, err := g.ledger.Check(ctx, p, c)
	if err != nil {
		return records.Feed{}, err
	}
	return g.next.Pull(ctx, p, c, epoch, since, limit)
}
