package sqlstore

import (
	"crypto/rand"

	"github.com/candorcloud/candor/internal/store"
)

// logged returns an audit record standing for the access of one call.
func logged() store.AuditRecord { return store.AuditRecord{Data: []byte(rand.Text())} }
