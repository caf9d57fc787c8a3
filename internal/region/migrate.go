package region

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/store"
)

// Directory is what migration needs of the directory.
type Directory interface {
	store.Moves
	Entry(ctx context.Context, account candor.AccountID) (store.Entry, error)
}

// Keys re-wraps data keys for another region (keyring.Keyring).
type Keys interface {
	MoveDataKey(ctx context.Context, dk store.DataKey, from, to candor.RegionID) (store.DataKey, error)
	// ReloadKEKs re-reads the regions' key versions, after the target
	// refused a key wrapped by a version another instance retired.
	ReloadKEKs(ctx context.Context) error
}

// Migrator moves accounts between regions (promise P12): it copies their
// ciphertext as it is, re-wraps their data keys for the target region,
// verifies the copy by counts and hashes, switches the directory entry
// atomically, then deletes everything of the account in the source.
//
// It is idempotent and resumable: every step can be run again, and a run
// on an account that was interrupted at any step carries on. While an
// account moves, its data is not served (requests get a retryable
// "unavailable"); writes already in flight when the move began are caught
// by copying again until the source stops changing.
type Migrator struct {
	dir     Directory
	regions map[candor.RegionID]store.Region
	blobs   map[candor.RegionID]blobs.Store
	keys    Keys
	logs    *audit.Logs
	// Settle is how long to wait after marking an account moving, for
	// requests already past authentication to finish (default 50 ms).
	Settle time.Duration
	// Actor names who runs the move in the audit log (default "staff").
	Actor string
}

// NewMigrator returns a Migrator.
func NewMigrator(dir Directory, regions map[candor.RegionID]store.Region, bl map[candor.RegionID]blobs.Store, keys Keys, logs *audit.Logs) *Migrator {
	return &Migrator{dir: dir, regions: regions, blobs: bl, keys: keys, logs: logs, Settle: 50 * time.Millisecond}
}

// Moved is what one account's move did.
type Moved struct {
	Account candor.AccountID `json:"account"`
	From    candor.RegionID  `json:"from"`
	To      candor.RegionID  `json:"to"`
	Records int              `json:"records"`
	Keys    int              `json:"keys"`
	Blobs   int              `json:"blobs"`
	Bytes   int64            `json:"bytes"`
	Already bool             `json:"already"` // it was home already; leftovers were cleaned
}

// event logs a step of a move in the directory's log. A move whose steps
// cannot be logged does not go on.
func (m *Migrator) event(action, outcome string, account candor.AccountID, region candor.RegionID, count int) error {
	ev, err := m.accountEvent(action, account, region)
	if err != nil {
		return err
	}
	ev.Outcome, ev.Count = outcome, count
	return m.logs.Append(context.Background(), audit.Directory, ev)
}

// accountEvent is the event of a step of a move, by the staff member who
// runs it.
func (m *Migrator) accountEvent(action string, account candor.AccountID, region candor.RegionID) (audit.Event, error) {
	actor := m.Actor
	if actor == "" {
		actor = audit.ActorStaff
	}
	return m.logs.AccountEvent(actor, action, account, region, "")
}

// MoveAccount moves one account to region to.
func (m *Migrator) MoveAccount(ctx context.Context, account candor.AccountID, to candor.RegionID) (Moved, error) {
	if _, ok := m.regions[to]; !ok {
		return Moved{}, candor.Errorf(candor.NotFound, "no region %q", to)
	}
	e, err := m.dir.Entry(ctx, account)
	if err != nil {
		return Moved{}, err
	}
	out := Moved{Account: account, From: e.Region, To: to}
	if e.Region == to {
		// Home already: finish an interrupted move by removing what any
		// other region still holds of the account.
		out.Already = true
		if err := m.event(audit.ActionMoveFinish, audit.OK, account, to, 0); err != nil {
			return out, err
		}
		if err := m.dir.SetMoving(ctx, account, ""); err != nil {
			return out, err
		}
		return out, m.shredElsewhere(ctx, account, to)
	}
	from := e.Region
	if err := m.event(audit.ActionMoveStart, audit.OK, account, to, 0); err != nil {
		return out, err
	}
	if err := m.dir.SetMoving(ctx, account, to); err != nil {
		return out, err
	}
	time.Sleep(m.Settle)

	// Copy until the source stops changing under us.
	var data store.AccountData
	for attempt := 0; ; attempt++ {
		if data, err = m.regions[from].ExportAccount(ctx, account); err != nil {
			return out, err
		}
		copied, err := m.copy(ctx, data, from, to, &out)
		if errors.Is(err, store.ErrNoKEK) {
			// The target's key was rotated by another instance and the
			// version this one re-wrapped under retired: learn the
			// versions stored now and copy again, once.
			if err := m.keys.ReloadKEKs(ctx); err != nil {
				return out, err
			}
			copied, err = m.copy(ctx, data, from, to, &out)
		}
		if err != nil {
			return out, err
		}
		again, err := m.regions[from].ExportAccount(ctx, account)
		if err != nil {
			return out, err
		}
		blobsNow, err := m.blobs[from].List(ctx, blobs.AccountPrefix(account))
		if err != nil {
			return out, err
		}
		if digest(again, false) == digest(data, false) && slices.Equal(blobsNow, copied) {
			break
		}
		if attempt == 10 {
			return out, candor.E(candor.Unavailable, "the account kept changing during the move: run it again")
		}
	}
	// Verify the target holds exactly what the source does.
	copied, err := m.regions[to].ExportAccount(ctx, account)
	if err != nil {
		return out, err
	}
	if digest(copied, true) != digest(data, true) {
		m.event(audit.ActionMoveVerify, audit.Failed, account, to, 0) // the error below says it all
		return out, fmt.Errorf("migration of an account: the copy in %s does not match the source", to)
	}
	if err := m.event(audit.ActionMoveCopied, audit.OK, account, to, len(data.Records)); err != nil {
		return out, err
	}
	if err := m.dir.SwitchRegion(ctx, account, from, to); err != nil {
		return out, err
	}
	if err := m.event(audit.ActionMoveSwitched, audit.OK, account, to, 0); err != nil {
		return out, err
	}
	if err := m.shredElsewhere(ctx, account, to); err != nil {
		return out, err
	}
	if err := m.event(audit.ActionMoveShredded, audit.OK, account, from, 0); err != nil {
		return out, err
	}
	return out, nil
}

// copy writes data into region to: data keys re-wrapped, blobs copied (and
// blobs no longer in the source removed). It returns the keys of the blobs
// it copied.
func (m *Migrator) copy(ctx context.Context, data store.AccountData, from, to candor.RegionID, out *Moved) ([]string, error) {
	data.DataKeys = slices.Clone(data.DataKeys) // the caller's stay as exported
	for i, dk := range data.DataKeys {
		moved, err := m.keys.MoveDataKey(ctx, dk, from, to)
		if err != nil {
			return nil, err
		}
		data.DataKeys[i] = moved
	}
	prefix := blobs.AccountPrefix(data.Account.ID)
	src, dst := m.blobs[from], m.blobs[to]
	keys, err := src.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out.Blobs, out.Bytes = 0, 0
	for _, k := range keys {
		n, err := copyBlob(ctx, src, dst, k)
		if err != nil {
			return nil, err
		}
		out.Blobs++
		out.Bytes += n
	}
	// What an earlier copy left in the target that the source has since
	// deleted goes too.
	there, err := dst.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	for _, k := range there {
		if !slices.Contains(keys, k) {
			if err := dst.Delete(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	if err := m.regions[to].ImportAccount(ctx, data); err != nil {
		return nil, err
	}
	out.Records, out.Keys = len(data.Records), len(data.DataKeys)
	return keys, nil
}

// copyBlob copies one object and checks the copy's bytes by hash.
func copyBlob(ctx context.Context, src, dst blobs.Store, key string) (int64, error) {
	r, size, err := src.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return 0, err
	}
	if err := dst.Put(ctx, key, bytes.NewReader(data), size); err != nil {
		return 0, err
	}
	r2, _, err := dst.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r2.Close()
	h := sha256.New()
	io.Copy(h, r2)
	if sha256.Sum256(data) != [32]byte(h.Sum(nil)) {
		return 0, fmt.Errorf("a blob's copy differs from its source")
	}
	return size, nil
}

// shredElsewhere deletes the account from every region but home.
func (m *Migrator) shredElsewhere(ctx context.Context, account candor.AccountID, home candor.RegionID) error {
	for id, st := range m.regions {
		if id == home {
			continue
		}
		if err := m.deleteRows(ctx, st, account, id); err != nil {
			return err
		}
		if _, err := m.blobs[id].DeletePrefix(ctx, blobs.AccountPrefix(account)); err != nil {
			return err
		}
	}
	return nil
}

// deleteRows deletes what region id holds of account, with the deletion in
// that region's log; a region that holds nothing of it logs nothing.
func (m *Migrator) deleteRows(ctx context.Context, st store.Region, account candor.AccountID, id candor.RegionID) error {
	if _, err := st.Account(ctx, account); candor.Is(err, candor.NotFound) {
		return nil
	} else if err != nil {
		return err
	}
	ev, err := m.accountEvent(audit.ActionMoveShredded, account, id)
	if err != nil {
		return err
	}
	return st.DeleteAccount(ctx, m.logs.Record(ev), account)
}

// digest summarises an account's data: counts, counters and a hash of every
// ciphertext, id and version. With keys false, data keys count by number
// only (their wraps differ between regions).
func digest(d store.AccountData, keys bool) [32]byte {
	h := sha256.New()
	w := func(vals ...any) {
		for _, v := range vals {
			switch x := v.(type) {
			case string:
				binary.Write(h, binary.BigEndian, uint32(len(x)))
				h.Write([]byte(x))
			case []byte:
				binary.Write(h, binary.BigEndian, uint32(len(x)))
				h.Write(x)
			case int64:
				binary.Write(h, binary.BigEndian, x)
			case int:
				binary.Write(h, binary.BigEndian, int64(x))
			case bool:
				binary.Write(h, binary.BigEndian, x)
			}
		}
	}
	w(string(d.Account.ID), d.FeedSeq, d.ConsentSeq, len(d.Devices), len(d.Consent), len(d.DataKeys), len(d.Records),
		len(d.Uploads), len(d.MessagingKeys), len(d.Envelopes), len(d.Receipts))
	for _, r := range d.Records {
		w(r.ID, string(r.Category), r.Version, r.Seq, r.Deleted, r.Ciphertext)
	}
	for _, c := range d.Consent {
		w(c.Seq, string(c.Category), c.On)
	}
	for _, u := range d.Uploads {
		w(u.ID, u.Size, u.Hash, u.Complete)
	}
	for _, e := range d.Envelopes {
		w(e.ID, string(e.Device), e.Data)
	}
	if keys {
		for _, k := range d.DataKeys {
			w(string(k.Category), k.Epoch)
		}
	}
	return [32]byte(h.Sum(nil))
}

// Resume finishes every move that stopped: each account still marked
// moving goes on to the region it was moving to, one by one, calling
// progress as MoveCountry does. An account that fails does not stop the
// others; the errors are returned together.
func (m *Migrator) Resume(ctx context.Context, progress func(done, total int, last Moved)) ([]Moved, error) {
	entries, err := m.dir.MovingAccounts(ctx)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(0, len(entries), Moved{})
	}
	var out []Moved
	var errs []error
	for i, e := range entries {
		mv, err := m.MoveAccount(ctx, e.Account, e.Moving)
		if err != nil {
			errs = append(errs, fmt.Errorf("an account moving to %s: %w", e.Moving, err))
			continue
		}
		out = append(out, mv)
		if progress != nil {
			progress(i+1, len(entries), mv)
		}
	}
	return out, errors.Join(errs...)
}

// MoveCountry moves every account of a country to region to, one by one,
// calling progress once the accounts are counted (done 0, last empty) and
// after each.
func (m *Migrator) MoveCountry(ctx context.Context, country string, to candor.RegionID, progress func(done, total int, last Moved)) ([]Moved, error) {
	accounts, err := m.CountryAccounts(ctx, country)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(0, len(accounts), Moved{})
	}
	var out []Moved
	for i, a := range accounts {
		mv, err := m.MoveAccount(ctx, a, to)
		if err != nil {
			return out, err
		}
		out = append(out, mv)
		if progress != nil {
			progress(i+1, len(accounts), mv)
		}
	}
	return out, nil
}

// CountryAccounts lists the accounts of a country in every region, each
// once, in the order of the regions' lists. Accounts already in a target
// are included too: a move interrupted after its switch finishes by
// cleaning the source.
func (m *Migrator) CountryAccounts(ctx context.Context, country string) ([]candor.AccountID, error) {
	ids := make([]candor.RegionID, 0, len(m.regions))
	for id := range m.regions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var accounts []candor.AccountID
	seen := map[candor.AccountID]bool{}
	for _, id := range ids {
		list, err := m.regions[id].AccountsByCountry(ctx, country)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if !seen[a] {
				seen[a] = true
				accounts = append(accounts, a)
			}
		}
	}
	return accounts, nil
}
