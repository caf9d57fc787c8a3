package consent

import (
	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Decide is the consent decision as a pure function of the ledger state:
// category c may be collected only when its latest event is "on". It returns
// the consent epoch (the ledger sequence number of that event) or the
// consent_required error that names the category.
func Decide(c candor.Category, state map[candor.Category]store.ConsentEvent) (epoch int64, err error) {
	if !c.Valid() {
		return 0, candor.E(candor.Invalid, "unknown category")
	}
	ev, ok := state[c]
	if !ok || !ev.On {
		return 0, candor.ErrConsent(c)
	}
	return ev.Seq, nil
}
