// Package records keeps each account's synced records — contacts, notes and
// SMS — sealed at rest, and serves them as a per-account change feed.
//
// Every record is sealed with AES-256-GCM under the data key of its
// (account, category); the associated data binds the ciphertext to the
// account, category, record id and version, so a ciphertext moved, swapped
// or replayed fails to open as an integrity error. Writes are
// compare-and-set on the record version: a change based on a version that
// is no longer current is reported back as a conflict with the current
// record, and nothing of it is stored. Deletions are kept as tombstones so
// they reach every device.
//
// The service does not ask the consent ledger: each of its methods takes a
// consent.Grant (made only by the ledger, see package consent/gate) and the
// audit record of the access, and the store re-checks the grant's epoch and
// appends the record in the transaction of every read and write.
package records

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

// Change is one edit from a device, in the clear as it arrived over TLS.
type Change struct {
	ID          string
	BaseVersion int64
	Deleted     bool
	Data        []byte
}

// Record is a record opened for its owner.
type Record struct {
	ID       string
	Version  int64
	Seq      int64
	Deleted  bool
	Data     []byte
	Modified time.Time
}

// Result is the outcome of one change: applied with its new version, or a
// conflict carrying the record as stored (Version 0 if it does not exist).
type Result struct {
	ID       string
	Applied  bool
	Version  int64
	Current  Record
	Conflict bool
}

// Pushed is the outcome of a push.
type Pushed struct {
	Epoch   int64
	Results []Result
}

// Feed is one page of the change feed.
type Feed struct {
	Epoch   int64
	Records []Record
	Next    int64
	More    bool
	// Reset: the cursor is below the account's PurgedSeq, so the device may
	// have missed a deletion and must pull from 0 (api.Feed.Reset).
	Reset bool
}

// Store is what the service needs of a region store.
type Store interface {
	ApplyChanges(ctx context.Context, rec store.AuditRecord, account candor.AccountID, c candor.Category, epoch int64, changes []store.Change) ([]store.Result, error)
	Changes(ctx context.Context, rec store.AuditRecord, account candor.AccountID, c candor.Category, epoch, since int64, limit int) ([]store.Record, error)
	PurgedSeq(ctx context.Context, account candor.AccountID) (int64, error)
}

// Stores resolves a region's store.
type Stores interface {
	Records(region candor.RegionID) (Store, error)
}

// Keys gives data keys (package keyring).
type Keys interface {
	DataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category) (seal.Key, int64, error)
	EnsureDataKey(ctx context.Context, region candor.RegionID, account candor.AccountID, c candor.Category, epoch int64) (seal.Key, error)
}

// Codec seals and opens record data. Sealed is the one the server uses;
// the interface exists so benchmarks can measure the cost of sealing
// against a plain copy.
type Codec interface {
	Seal(k seal.Key, plaintext, ad []byte) []byte
	Open(k seal.Key, sealed, ad []byte) ([]byte, error)
}

// Sealed is the AES-256-GCM codec of package seal.
type Sealed struct{}

// Seal seals plaintext with k.
func (Sealed) Seal(k seal.Key, plaintext, ad []byte) []byte { return k.Seal(plaintext, ad) }

// Open opens sealed with k.
func (Sealed) Open(k seal.Key, sealed, ad []byte) ([]byte, error) { return k.Open(sealed, ad) }

// Service pushes and pulls records.
type Service struct {
	stores Stores
	keys   Keys
	codec  Codec
}

// New returns a Service that seals with codec.
func New(stores Stores, keys Keys, codec Codec) *Service {
	return &Service{stores: stores, keys: keys, codec: codec}
}

// Limits of one push and one page of the feed, as the API documents them.
const (
	MaxChanges     = api.MaxChangesPerPush
	MaxRecordBytes = api.MaxRecordBytes
	MaxPage        = api.MaxFeedPage
)

func recordAD(account candor.AccountID, c candor.Category, id string, version int64) []byte {
	return seal.AD("candor/record/v1", string(account), string(c), id, strconv.FormatInt(version, 10))
}

// validate checks a whole push before anything is written, so bad input
// never leaves a partial write behind.
func validate(changes []Change) error {
	if len(changes) == 0 {
		return candor.E(candor.Invalid, "a push needs at least one change")
	}
	if len(changes) > MaxChanges {
		return candor.Errorf(candor.TooLarge, "a push holds at most %d changes; send the rest in another", MaxChanges)
	}
	seen := make(map[string]bool, len(changes))
	for i, ch := range changes {
		switch {
		case !candor.ValidID(ch.ID) || ch.ID[:4] != "rec_":
			return candor.Errorf(candor.Invalid, "change %d: a record id looks like rec_ followed by 26 base32 letters", i)
		case seen[ch.ID]:
			return candor.Errorf(candor.Invalid, "change %d: the same record appears twice in one push", i)
		case ch.BaseVersion < 0:
			return candor.Errorf(candor.Invalid, "change %d: base_version cannot be negative", i)
		case ch.Deleted && len(ch.Data) > 0:
			return candor.Errorf(candor.Invalid, "change %d: a deletion carries no data", i)
		case !ch.Deleted && len(ch.Data) == 0:
			return candor.Errorf(candor.Invalid, "change %d: a record needs data (or deleted: true)", i)
		case len(ch.Data) > MaxRecordBytes:
			return candor.Errorf(candor.TooLarge, "change %d: a record holds at most %d bytes", i, MaxRecordBytes)
		case ch.Deleted && ch.BaseVersion == 0:
			return candor.Errorf(candor.Invalid, "change %d: cannot delete a record the server never had", i)
		}
		seen[ch.ID] = true
	}
	return nil
}

// Push seals and applies changes to the category g grants, made by a
// device under epoch, and appends rec in the same transaction. It fails
// with Conflict when epoch is not the grant's (the category was turned off
// and on again since the device last synced), and stores nothing in that
// case or on any invalid change.
func (s *Service) Push(ctx context.Context, rec store.AuditRecord, g consent.Grant, epoch int64, changes []Change) (Pushed, error) {
	p, c := g.Principal(), g.Category()
	if err := g.For(c); err != nil {
		return Pushed{}, err
	}
	if !c.Synced() {
		return Pushed{}, candor.Errorf(candor.Invalid, "%s is not synced as records", c)
	}
	if err := validate(changes); err != nil {
		return Pushed{}, err
	}
	if epoch != g.Epoch() {
		return Pushed{}, errStaleEpoch
	}
	st, err := s.stores.Records(p.Region)
	if err != nil {
		return Pushed{}, err
	}
	key, err := s.keys.EnsureDataKey(ctx, p.Region, p.Account, c, epoch)
	if err != nil {
		if candor.Is(err, candor.ConsentRequired) {
			err = errStaleEpoch // the gate saw it on: on, but not under the device's epoch
		}
		return Pushed{}, err
	}
	sealed := make([]store.Change, len(changes))
	for i, ch := range changes {
		v := ch.BaseVersion + 1
		sc := store.Change{ID: ch.ID, BaseVersion: ch.BaseVersion, Version: v, Deleted: ch.Deleted}
		if !ch.Deleted {
			sc.Ciphertext = s.codec.Seal(key, ch.Data, recordAD(p.Account, c, ch.ID, v))
		}
		sealed[i] = sc
	}
	res, err := st.ApplyChanges(ctx, rec, p.Account, c, epoch, sealed)
	if err != nil {
		if candor.Is(err, candor.Conflict) {
			err = errStaleEpoch
		}
		return Pushed{}, err
	}
	out := Pushed{Epoch: epoch, Results: make([]Result, len(res))}
	for i, r := range res {
		out.Results[i] = Result{ID: r.ID, Applied: r.Applied, Version: r.Version, Conflict: !r.Applied}
		if !r.Applied && r.Current.Version > 0 {
			if out.Results[i].Current, err = s.open(key, p.Account, c, r.Current); err != nil {
				return Pushed{}, err
			}
		}
	}
	return out, nil
}

var errStaleEpoch = candor.E(candor.Conflict, "the category was turned off and on again since this device last synced: pull again from the start")

// fullPassKey marks a context whose pulls read a category from the start.
type fullPassKey struct{}

// WithFullPass marks ctx as reading a category from the start, page by
// page: its pulls are not told to reset when their cursor is below the
// purged position (the pass itself is what a reset asks for).
func WithFullPass(ctx context.Context) context.Context {
	return context.WithValue(ctx, fullPassKey{}, true)
}

func fullPass(ctx context.Context) bool { v, _ := ctx.Value(fullPassKey{}).(bool); return v }

// Pull returns up to limit records of the category g grants changed after
// since, opened, and appends rec in the same transaction as the read.
//
// Retention purges old deletion records and raises the account's purged
// position to the highest one it removed. A cursor below that position
// (since > 0) may have missed a deletion: the answer is then Reset, with
// no records, unless ctx is a full pass (WithFullPass). The purged position
// is read after the records, so a purge that commits in between is seen.
// The last page's Next is at least the purged position, so a device that
// has read everything is not sent back to the start by deletions it has
// read past.
func (s *Service) Pull(ctx context.Context, rec store.AuditRecord, g consent.Grant, since int64, limit int) (Feed, error) {
	p, c, epoch := g.Principal(), g.Category(), g.Epoch()
	if err := g.For(c); err != nil {
		return Feed{}, err
	}
	if !c.Synced() {
		return Feed{}, candor.Errorf(candor.Invalid, "%s is not synced as records", c)
	}
	if since < 0 {
		return Feed{}, candor.E(candor.Invalid, "the cursor cannot be negative")
	}
	if limit <= 0 || limit > MaxPage {
		return Feed{}, candor.Errorf(candor.Invalid, "limit must be between 1 and %d", MaxPage)
	}
	st, err := s.stores.Records(p.Region)
	if err != nil {
		return Feed{}, err
	}
	recs, err := st.Changes(ctx, rec, p.Account, c, epoch, since, limit+1)
	if err != nil {
		if candor.Is(err, candor.Conflict) {
			err = errStaleEpoch
		}
		return Feed{}, err
	}
	feed := Feed{Epoch: epoch, Next: since}
	if len(recs) > limit {
		recs, feed.More = recs[:limit], true
	}
	check := since > 0 && !fullPass(ctx)
	var purged int64
	if check || !feed.More { // a middle page of a full pass needs neither
		if purged, err = st.PurgedSeq(ctx, p.Account); err != nil {
			return Feed{}, err
		}
	}
	if check && since < purged {
		return Feed{Epoch: epoch, Next: 0, More: true, Reset: true}, nil
	}
	if len(recs) > 0 {
		key, keyEpoch, err := s.keys.DataKey(ctx, p.Region, p.Account, c)
		if candor.Is(err, candor.NotFound) || (err == nil && keyEpoch != epoch) {
			return Feed{}, candor.E(candor.Integrity, "records exist without their data key")
		}
		if err != nil {
			return Feed{}, err
		}
		feed.Records = make([]Record, len(recs))
		for i, r := range recs {
			if feed.Records[i], err = s.open(key, p.Account, c, r); err != nil {
				return Feed{}, err
			}
		}
		feed.Next = recs[len(recs)-1].Seq
	}
	if !feed.More {
		// Every change of this category up to the purged position is in
		// the store (they were written before the deletions that were
		// purged) and so was read.
		feed.Next = max(feed.Next, purged)
	}
	return feed, nil
}

func (s *Service) open(key seal.Key, account candor.AccountID, c candor.Category, r store.Record) (Record, error) {
	out := Record{ID: r.ID, Version: r.Version, Seq: r.Seq, Deleted: r.Deleted, Modified: r.Modified}
	if r.Deleted {
		return out, nil
	}
	data, err := s.codec.Open(key, r.Ciphertext, recordAD(account, c, r.ID, r.Version))
	if err != nil {
		return Record{}, fmt.Errorf("record %s: %w", r.ID, err)
	}
	out.Data = data
	return out, nil
}
