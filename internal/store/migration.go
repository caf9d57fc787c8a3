package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// AccountData is everything a region holds of one account, as stored
// (ciphertext and wrapped keys, never opened): what a migration copies.
// FeedSeq, ConsentSeq and PurgedSeq are the account's counters.
type AccountData struct {
	Account       Account
	FeedSeq       int64
	ConsentSeq    int64
	PurgedSeq     int64
	Devices       []Device
	Consent       []ConsentEvent
	DataKeys      []DataKey
	Records       []Record
	Uploads       []Upload
	MessagingKeys []MessagingKeys
	Envelopes     []Envelope
	Receipts      []Receipt
}

// Migrations is what moving accounts between regions needs of a region
// store.
type Migrations interface {
	// ExportAccount reads everything of an account in one consistent read
	// (one transaction); NotFound if the account is not in this region.
	ExportAccount(ctx context.Context, account candor.AccountID) (AccountData, error)
	// ImportAccount writes an account's data in one transaction, first
	// deleting whatever of it this region holds already (a copy begun
	// before), so importing twice leaves one copy. It fails with ErrNoKEK,
	// writing nothing, if a data key is wrapped by a KEK version this
	// region does not store, checked as CreateDataKey checks.
	ImportAccount(ctx context.Context, d AccountData) error
	// AccountsByCountry lists the accounts of a country homed here.
	AccountsByCountry(ctx context.Context, country string) ([]candor.AccountID, error)
}

// Moves is what moving accounts needs of the directory.
type Moves interface {
	// SetMoving marks an account as moving to a region ("" clears it):
	// while it moves, its data is not served. NotFound if no entry.
	SetMoving(ctx context.Context, account candor.AccountID, to candor.RegionID) error
	// SwitchRegion changes an account's home region from one region to
	// another, atomically and only if it is still from (else Conflict),
	// clears its moving mark and moves its messaging numbers with it.
	SwitchRegion(ctx context.Context, account candor.AccountID, from, to candor.RegionID) error
	// MovingAccounts lists the entries marked moving, by account: moves
	// that have not finished (or that stopped and wait to be run again).
	MovingAccounts(ctx context.Context) ([]Entry, error)
}

// Retention is what purging by age needs of a region store.
type Retention interface {
	// PurgeTombstones deletes deletion records (tombstones) last changed
	// before before, about limit at a time, raises each account's
	// PurgedSeq to the highest Seq it deleted in the same transaction, and
	// reports how many it deleted.
	PurgeTombstones(ctx context.Context, before time.Time, limit int) (int, error)
}
