package consent

import "github.com/candorcloud/candor"

// Grant is the proof that a category was on for an account when it was
// checked: the principal, the category and its consent epoch (the ledger
// Seq of the event that turned it on). Only the Ledger makes grants (Check); the services that collect personal data — records, photos,
// messaging — take a Grant in every method that does, so a new access path
// that never asked the ledger does not compile. The zero Grant grants
// nothing, and those services refuse it.
//
// A Grant is checked, not held: the store re-checks its epoch inside the
// transaction of every write and read of the category, so consent withdrawn
// after the check still stops the access.
type Grant struct {
	p     candor.Principal
	c     candor.Category
	epoch int64
}

// Principal is who the grant is for.
func (g Grant) Principal() candor.Principal { return g.p }

// Category is the category the grant is for.
func (g Grant) Category() candor.Category { return g.c }

// Epoch is the consent epoch the grant was made under.
func (g Grant) Epoch() int64 { return g.epoch }

// For returns nil if g grants category c, and otherwise the error a service
// refuses with: a zero Grant, or one for another category, is a fault of
// the composition, never of the person asking.
func (g Grant) For(c candor.Category) error {
	if g.epoch <= 0 || g.c != c || g.p.Account == "" {
		return errNoGrant
	}
	return nil
}

var errNoGrant = candor.E(candor.Internal, "an access without a consent grant was refused")
