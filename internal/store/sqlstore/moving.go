package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Moving accounts between regions: a region store exports and imports an
// account's rows whole (store.Migrations), and the directory marks an
// account moving and switches its home region (store.Moves).

var (
	_ store.Migrations = (*RegionStore)(nil)
	_ store.Moves      = (*DirectoryStore)(nil)
)

// ExportAccount reads everything of an account in this region — its row and
// counters, devices, consent ledger, data keys, records (tombstones
// included), uploads, messaging keys, envelopes and receipts — in one
// read-only transaction that sees one snapshot (see db.inSnapshot), so the
// parts agree with each other even while the account is written to. Each
// list has a fixed order: devices by Created then ID, the ledger and the
// records by Seq, data keys by Category, uploads by ID, messaging keys by
// Device, envelopes by Device then ID, receipts by Device, ID and ToDevice;
// so two exports of the same rows are equal. NotFound if the account is not
// in this region.
//
// It is not an access: audit records in ctx are ignored.
func (s *RegionStore) ExportAccount(ctx context.Context, account candor.AccountID) (store.AccountData, error) {
	const op = "export account"
	id := string(account)
	var d store.AccountData
	err := s.db.inSnapshot(ctx, BulkDeadline, func(r runner) error {
		var err error
		d = store.AccountData{}
		d.Account, err = scanAccount(r.row(ctx, `SELECT `+accountColumns+`, consent_seq, feed_seq, purged_seq FROM accounts WHERE id = ?`, id),
			account, &d.ConsentSeq, &d.FeedSeq, &d.PurgedSeq)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errNoAccount
		case err != nil:
			return internal(op, err)
		}
		if d.Devices, err = queryAll(ctx, r, op, func(sc scanner) (store.Device, error) {
			return scanDevice(sc, account)
		}, `SELECT `+deviceColumns+` FROM devices WHERE account = ? ORDER BY created_us, id`, id); err != nil {
			return err
		}
		if d.Consent, err = queryAll(ctx, r, op, func(sc scanner) (store.ConsentEvent, error) {
			return scanConsent(sc, account)
		}, `SELECT `+consentColumns+` FROM consent_events WHERE account = ? ORDER BY seq`, id); err != nil {
			return err
		}
		if d.DataKeys, err = queryAll(ctx, r, op, func(sc scanner) (store.DataKey, error) {
			k := store.DataKey{Account: account}
			var created int64
			err := sc.Scan(&k.Category, &k.Epoch, &k.Key.Version, &k.Key.Wrapper, &k.Key.Wrapped, &created)
			k.Key.Created = fromMicros(created)
			return k, err
		}, `SELECT category, epoch, version, wrapper, wrapped, created_us FROM data_keys
			WHERE account = ? ORDER BY category`, id); err != nil {
			return err
		}
		if d.Records, err = queryAll(ctx, r, op, func(sc scanner) (store.Record, error) {
			rec := store.Record{Account: account}
			var modified int64
			err := sc.Scan(&rec.Category, &rec.ID, &rec.Version, &rec.Seq, &rec.Deleted, &rec.Ciphertext, &modified)
			rec.Modified = fromMicros(modified)
			if rec.Deleted {
				rec.Ciphertext = nil
			}
			return rec, err
		}, `SELECT category, `+recordColumns+` FROM records WHERE account = ? ORDER BY seq`, id); err != nil {
			return err
		}
		if d.Uploads, err = queryAll(ctx, r, op, scanUpload, `SELECT `+uploadColumns+` FROM uploads WHERE account = ? ORDER BY id`, id); err != nil {
			return err
		}
		if d.MessagingKeys, err = queryAll(ctx, r, op, func(sc scanner) (store.MessagingKeys, error) {
			return scanMessagingKeys(sc, account)
		}, `SELECT `+messagingKeyColumns+` FROM messaging_keys WHERE account = ? ORDER BY device`, id); err != nil {
			return err
		}
		if d.Envelopes, err = queryAll(ctx, r, op, func(sc scanner) (store.Envelope, error) {
			e := store.Envelope{Account: account}
			var created, expires int64
			err := sc.Scan(&e.Device, &e.ID, &e.From, &e.Data, &created, &expires)
			e.Created, e.Expires = fromMicros(created), fromMicros(expires)
			return e, err
		}, `SELECT device, `+envelopeColumns+` FROM envelopes WHERE account = ? ORDER BY device, id`, id); err != nil {
			return err
		}
		d.Receipts, err = queryAll(ctx, r, op, func(sc scanner) (store.Receipt, error) {
			x := store.Receipt{Account: account}
			var t int64
			err := sc.Scan(&x.Device, &x.ID, &x.ToDevice, &t)
			x.Time = fromMicros(t)
			return x, err
		}, `SELECT device, id, to_device, time_us FROM receipts WHERE account = ? ORDER BY device, id, to_device`, id)
		return err
	})
	if err != nil {
		return store.AccountData{}, err
	}
	return d, nil
}

// ImportAccount writes an account's data in one transaction: it first
// deletes whatever of the account this region holds (as DeleteAccount
// does, consent ledger included), then inserts every row exactly as given —
// Seqs, versions, times, bytes, and the account's counters — with
// multi-row statements, batchRows rows each. Importing the same data twice,
// or over a partial earlier import, leaves exactly one copy of d.
//
// Times are kept as given (a zero time stays zero), at microsecond
// precision; a live record's nil ciphertext is stored empty, as
// ApplyChanges stores it.
//
// Invalid, writing nothing, if the account id is empty, a row names another
// account, a record is a deletion with ciphertext, or a counter is below a
// Seq it should have handed out (FeedSeq below a record's Seq, ConsentSeq
// below a ledger event's): later writes would reuse Seqs. Conflict if a
// device or upload id is held by another account of this region, or if the
// account is created by another call while this one runs (PostgreSQL).
// store.ErrNoKEK (Conflict), writing nothing, if a data key is wrapped by a
// KEK version this region does not store, checked (and the version held)
// as by CreateDataKey: a key re-wrapped under a version retired meanwhile
// could never be opened.
//
// It is not an access: audit records in ctx are ignored, and nothing is
// appended to the region's audit log.
func (s *RegionStore) ImportAccount(ctx context.Context, d store.AccountData) error {
	if err := checkImport(d); err != nil {
		return err
	}
	id := d.Account.ID
	return s.db.inTxFor(ctx, BulkDeadline, func(r runner) error {
		if s.db.dialect.bulkInsert != "" {
			if _, err := r.exec(ctx, s.db.dialect.bulkInsert); err != nil {
				return internal("import account", err)
			}
		}
		switch _, err := s.lockAccount(ctx, r, id); {
		case err == nil:
			if err := deleteAccountRows(ctx, r, id); err != nil {
				return err
			}
		case !candor.Is(err, candor.NotFound):
			return err
		}
		for _, w := range wrappers(d.DataKeys) {
			if err := holdKEK(ctx, r, w); err != nil {
				return err
			}
		}
		a := d.Account
		if _, err := r.exec(ctx, `INSERT INTO accounts (id, `+accountColumns+`, consent_seq, feed_seq, purged_seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			string(id), a.Country, a.Salt, int64(a.KDF.Time), int64(a.KDF.MemoryKiB), int64(a.KDF.Threads),
			a.AuthHash, micros(a.Created), d.ConsentSeq, d.FeedSeq, d.PurgedSeq); s.db.dialect.unique(err) {
			return candor.Wrap(candor.Conflict, "the account was created meanwhile", err)
		} else if err != nil {
			return internal("import account", err)
		}
		for _, t := range importTables(d) {
			err := insertRows(ctx, r, t.insert, t.width, t.rows)
			switch {
			case s.db.dialect.unique(err):
				return candor.Wrap(candor.Conflict, "a device or upload id is held by another account", err)
			case err != nil:
				return internal("import account", err)
			}
		}
		return nil
	})
}

// wrappers lists the KEK versions that wrap keys, each once, ascending.
func wrappers(keys []store.DataKey) []int64 {
	var out []int64
	for _, k := range keys {
		if !slices.Contains(out, k.Key.Wrapper) {
			out = append(out, k.Key.Wrapper)
		}
	}
	slices.Sort(out)
	return out
}

// checkImport reports what makes d unfit to import, as ImportAccount
// documents.
func checkImport(d store.AccountData) error {
	id := d.Account.ID
	if id == "" {
		return candor.E(candor.Invalid, "the imported account has no id")
	}
	bad := func() error { return candor.E(candor.Invalid, "an imported row names another account") }
	for _, x := range d.Devices {
		if x.Account != id {
			return bad()
		}
	}
	for _, x := range d.Consent {
		if x.Account != id {
			return bad()
		}
		if x.Seq > d.ConsentSeq {
			return candor.E(candor.Invalid, "the imported consent counter is below a ledger event's seq")
		}
	}
	for _, x := range d.DataKeys {
		if x.Account != id {
			return bad()
		}
	}
	for _, x := range d.Records {
		if x.Account != id {
			return bad()
		}
		if x.Seq > d.FeedSeq {
			return candor.E(candor.Invalid, "the imported feed counter is below a record's seq")
		}
		if x.Deleted && len(x.Ciphertext) > 0 {
			return candor.E(candor.Invalid, "an imported deletion carries ciphertext")
		}
	}
	for _, x := range d.Uploads {
		if x.Account != id {
			return bad()
		}
	}
	for _, x := range d.MessagingKeys {
		if x.Account != id {
			return bad()
		}
	}
	for _, x := range d.Envelopes {
		if x.Account != id {
			return bad()
		}
	}
	for _, x := range d.Receipts {
		if x.Account != id {
			return bad()
		}
	}
	return nil
}

// importTable is the rows of one table to insert: width values per row, in
// the order of the columns insert (ending in VALUES) names.
type importTable struct {
	insert string
	width  int
	rows   []any
}

// importTables lays out the rows of d, by table.
func importTables(d store.AccountData) []importTable {
	id := string(d.Account.ID)
	devices := importTable{insert: `INSERT INTO devices (id, account, pseudonym, created_us, kind, name) VALUES `, width: 6}
	for _, x := range d.Devices {
		devices.rows = append(devices.rows, string(x.ID), id, notNil(x.Pseudonym), micros(x.Created), x.Kind, x.Name)
	}
	consent := importTable{insert: `INSERT INTO consent_events (account, ` + consentColumns + `) VALUES `, width: 7}
	for _, x := range d.Consent {
		consent.rows = append(consent.rows, id, x.Seq, string(x.Category), x.On, string(x.Device), micros(x.Time), x.PolicyVersion)
	}
	keys := importTable{insert: `INSERT INTO data_keys (` + dataKeyColumns + `) VALUES `, width: 7}
	for _, x := range d.DataKeys {
		keys.rows = append(keys.rows, id, string(x.Category), x.Epoch, x.Key.Version, x.Key.Wrapper, x.Key.Wrapped, micros(x.Key.Created))
	}
	records := importTable{insert: `INSERT INTO records (account, category, ` + recordColumns + `) VALUES `, width: 8,
		rows: make([]any, 0, 8*len(d.Records))}
	for _, x := range d.Records {
		ct := x.Ciphertext
		switch {
		case x.Deleted:
			ct = nil
		case ct == nil:
			ct = []byte{}
		}
		records.rows = append(records.rows, id, string(x.Category), x.ID, x.Version, x.Seq, x.Deleted, ct, micros(x.Modified))
	}
	uploads := importTable{insert: `INSERT INTO uploads (` + uploadColumns + `) VALUES `, width: 9}
	for _, x := range d.Uploads {
		uploads.rows = append(uploads.rows, x.ID, id, string(x.Category), x.Size, notNil(x.Hash), x.Complete,
			micros(x.Created), micros(x.Expires), micros(x.Shared))
	}
	mkeys := importTable{insert: `INSERT INTO messaging_keys (account, device, hpke, sign, created_us) VALUES `, width: 5}
	for _, x := range d.MessagingKeys {
		mkeys.rows = append(mkeys.rows, id, string(x.Device), notNil(x.HPKE), notNil(x.Sign), micros(x.Created))
	}
	envelopes := importTable{insert: insertEnvelopes, width: envelopeWidth}
	for _, x := range d.Envelopes {
		envelopes.rows = append(envelopes.rows, id, string(x.Device), x.ID, string(x.From), notNil(x.Data),
			micros(x.Created), micros(x.Expires))
	}
	receipts := importTable{insert: `INSERT INTO receipts (account, device, id, to_device, time_us) VALUES `, width: receiptWidth}
	for _, x := range d.Receipts {
		receipts.rows = append(receipts.rows, id, string(x.Device), x.ID, string(x.ToDevice), micros(x.Time))
	}
	return []importTable{devices, consent, keys, records, uploads, mkeys, envelopes, receipts}
}

// notNil returns b, or an empty slice for nil: the value of a NOT NULL
// byte column.
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// AccountsByCountry lists the accounts of a country homed in this region,
// by id, reading the accounts_country index alone.
func (s *RegionStore) AccountsByCountry(ctx context.Context, country string) ([]candor.AccountID, error) {
	return queryAll(ctx, s.db.reader(), "list accounts by country", func(sc scanner) (candor.AccountID, error) {
		var id candor.AccountID
		err := sc.Scan(&id)
		return id, err
	}, `SELECT id FROM accounts WHERE country = ? ORDER BY id`, country)
}

// SetMoving marks an account as moving to region to, or clears the mark
// when to is empty; one statement. NotFound if the account has no entry.
// It is not an access: audit records in ctx are ignored.
func (s *DirectoryStore) SetMoving(ctx context.Context, account candor.AccountID, to candor.RegionID) error {
	res, err := s.db.writer().exec(ctx, `UPDATE directory_entries SET moving = ? WHERE account = ?`,
		nullable(string(to)), string(account))
	if err != nil {
		return internal("set moving", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("set moving", err)
	} else if n == 0 {
		return errNoEntry
	}
	return nil
}

// MovingAccounts lists the entries marked moving, in account order. It is
// not an access: audit records in ctx are ignored.
func (s *DirectoryStore) MovingAccounts(ctx context.Context) ([]store.Entry, error) {
	return queryAll(ctx, s.db.reader(), "moving accounts", func(sc scanner) (store.Entry, error) {
		var e store.Entry
		var created int64
		err := sc.Scan(&e.Account, &e.Handle, &e.Region, &created, &e.Moving)
		e.Created = fromMicros(created)
		return e, err
	}, `SELECT `+entryColumns+` FROM directory_entries WHERE moving IS NOT NULL ORDER BY account`)
}

// SwitchRegion changes an account's home region from one region to another
// and clears its moving mark, and points its messaging numbers at the new
// region, in one transaction that changes the entry only
// if its region is still from: of two concurrent switches of one account
// from the same region, one succeeds and the other gets Conflict. Conflict
// if the account's region is not from; NotFound if it has no entry;
// Invalid if to is empty. It is not an access: audit records in ctx are
// ignored.
func (s *DirectoryStore) SwitchRegion(ctx context.Context, account candor.AccountID, from, to candor.RegionID) error {
	if to == "" {
		return candor.E(candor.Invalid, "the region to switch to is empty")
	}
	err := s.db.inTx(ctx, func(r runner) error {
		res, err := r.exec(ctx, `UPDATE directory_entries SET region = ?, moving = NULL WHERE account = ? AND region = ?`,
			string(to), string(account), string(from))
		if err != nil {
			return internal("switch region", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return internal("switch region", err)
		}
		if n == 0 {
			// Nothing changed: tell a missing entry from one in another region.
			var one int
			err = r.row(ctx, `SELECT 1 FROM directory_entries WHERE account = ?`, string(account)).Scan(&one)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return errNoEntry
			case err != nil:
				return internal("switch region", err)
			}
			return candor.Errorf(candor.Conflict, "the account is not homed in region %s", from)
		}
		// The account's messaging numbers point senders at its region.
		if _, err := r.exec(ctx, `UPDATE numbers SET region = ? WHERE account = ?`, string(to), string(account)); err != nil {
			return internal("switch region", err)
		}
		return nil
	})
	return err
}

var errNoEntry = candor.E(candor.NotFound, "no directory entry")

// nullable is s, or SQL NULL when s is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
