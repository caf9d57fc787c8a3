package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// RegionStore is the metadata store of one region, in SQLite or
// PostgreSQL. It is safe for concurrent use.
type RegionStore struct {
	db *db
	// auditLog is the region's log; its store.AuditLog methods are the
	// store's.
	*auditLog
	enqueue *groupCommit
}

func newRegionStore(d *db) *RegionStore {
	return &RegionStore{db: d, auditLog: &auditLog{db: d, auditTables: regionAudit}, enqueue: &groupCommit{db: d}}
}

var _ store.Region = (*RegionStore)(nil)

// Close closes the database. With SQLite it checkpoints and removes the
// write-ahead log.
func (s *RegionStore) Close() error {
	s.enqueue.close()
	return s.db.close()
}

var errNoAccount = candor.E(candor.NotFound, "account not found")

// CreateAccount stores a new account; Conflict if the id exists.
func (s *RegionStore) CreateAccount(ctx context.Context, a store.Account) error {
	if a.ID == "" {
		return candor.E(candor.Invalid, "account id is empty")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO accounts
		(id, country, salt, kdf_time, kdf_memory_kib, kdf_threads, auth_hash, created_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		string(a.ID), a.Country, a.Salt, int64(a.KDF.Time), int64(a.KDF.MemoryKiB), int64(a.KDF.Threads),
		a.AuthHash, micros(stamp(a.Created)))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "account exists already", err)
	case err != nil:
		return internal("create account", err)
	}
	return nil
}

// Account returns an account; NotFound if absent.
func (s *RegionStore) Account(ctx context.Context, id candor.AccountID) (store.Account, error) {
	a, err := scanAccount(s.db.reader().row(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, string(id)), id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Account{}, errNoAccount
	case err != nil:
		return store.Account{}, internal("read account", err)
	}
	return a, nil
}

const accountColumns = `country, salt, kdf_time, kdf_memory_kib, kdf_threads, auth_hash, created_us`

// scanAccount scans accountColumns, then any extra destinations.
func scanAccount(sc scanner, id candor.AccountID, extra ...any) (store.Account, error) {
	a := store.Account{ID: id}
	var kdfTime, kdfMem, kdfThreads, created int64
	err := sc.Scan(append([]any{&a.Country, &a.Salt, &kdfTime, &kdfMem, &kdfThreads, &a.AuthHash, &created}, extra...)...)
	a.KDF = store.KDF{Time: uint32(kdfTime), MemoryKiB: uint32(kdfMem), Threads: uint8(kdfThreads)}
	a.Created = fromMicros(created)
	return a, err
}

// DeleteAccount removes the account and everything of it in this region, in
// one transaction: messaging keys, envelopes and receipts, records,
// uploads, data keys, devices, then the account row, whose
// deletion cascades to the consent ledger (the only way ledger rows go).
// Deleting an absent account is not an error. rec is appended in the same
// transaction (also when the account is absent), unless it fails. The log's entries of the account stay: they name it
// only by a pseudonym.
func (s *RegionStore) DeleteAccount(ctx context.Context, rec store.AuditRecord, id candor.AccountID) error {
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		if _, err := s.lockAccount(ctx, r, id); err != nil {
			if candor.Is(err, candor.NotFound) {
				return nil
			}
			return err
		}
		if err := deleteAccountRows(ctx, r, id); err != nil {
			return err
		}
		_, err := r.exec(ctx, `INSERT INTO pending_erasures (account, since_us) VALUES (?, ?) ON CONFLICT (account) DO NOTHING`,
			string(id), micros(stamp(time.Time{})))
		if err != nil {
			return internal("delete account", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.db.scrub(ctx)
}

// PendingErasures lists up to limit accounts deleted here whose erasure
// outside this database is not known to be done, the oldest first.
func (s *RegionStore) PendingErasures(ctx context.Context, limit int) ([]candor.AccountID, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	rows, err := s.db.reader().query(ctx, `SELECT account FROM pending_erasures ORDER BY since_us, account LIMIT ?`, limit)
	if err != nil {
		return nil, internal("list pending erasures", err)
	}
	defer rows.Close()
	var out []candor.AccountID
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, internal("list pending erasures", err)
		}
		out = append(out, candor.AccountID(a))
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list pending erasures", err)
	}
	return out, nil
}

// ErasureDone removes an account from the pending erasures.
func (s *RegionStore) ErasureDone(ctx context.Context, id candor.AccountID) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM pending_erasures WHERE account = ?`, string(id)); err != nil {
		return internal("erasure done", err)
	}
	return nil
}

// deleteAccountRows deletes everything of account in the caller's
// transaction, which has locked its row: messaging keys, envelopes and
// receipts, records, uploads, data keys, devices, then the account row,
// whose deletion cascades to the consent ledger.
func deleteAccountRows(ctx context.Context, r runner, id candor.AccountID) error {
	if err := deleteMessaging(ctx, r, id, ""); err != nil {
		return err
	}
	return execAll(ctx, r, "delete account", []string{
		`DELETE FROM records WHERE account = ?`,
		`DELETE FROM uploads WHERE account = ?`,
		`DELETE FROM data_keys WHERE account = ?`,
		`DELETE FROM devices WHERE account = ?`,
		`DELETE FROM accounts WHERE id = ?`,
	}, string(id))
}

// counters are an account's last consent and feed Seqs.
type counters struct{ consent, feed int64 }

// lockAccount reads the counters of account and, in PostgreSQL, locks its
// row until the transaction ends, serialising every transaction that
// changes the account's consent, keys or records. NotFound if absent.
func (s *RegionStore) lockAccount(ctx context.Context, r runner, id candor.AccountID) (counters, error) {
	var c counters
	err := r.row(ctx, `SELECT consent_seq, feed_seq FROM accounts WHERE id = ?`+s.db.dialect.forUpdate, string(id)).
		Scan(&c.consent, &c.feed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return c, errNoAccount
	case err != nil:
		return c, internal("lock account", err)
	}
	return c, nil
}

const deviceColumns = `id, pseudonym, created_us, kind, name`

func scanDevice(sc scanner, account candor.AccountID) (store.Device, error) {
	d := store.Device{Account: account}
	var created int64
	err := sc.Scan(&d.ID, &d.Pseudonym, &created, &d.Kind, &d.Name)
	d.Created = fromMicros(created)
	return d, err
}

// RegisterDevice stores d, or returns the device already registered with the
// same (Account, Pseudonym) unchanged, and appends rec in the same
// transaction. NotFound if the account does not exist; Conflict if d.ID is
// taken by another device.
func (s *RegionStore) RegisterDevice(ctx context.Context, rec store.AuditRecord, d store.Device) (store.Device, error) {
	if d.ID == "" || len(d.Pseudonym) == 0 {
		return store.Device{}, candor.E(candor.Invalid, "device id or pseudonym is empty")
	}
	var out store.Device
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO devices (id, account, pseudonym, created_us, kind, name) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, pseudonym) DO NOTHING`,
			string(d.ID), string(d.Account), d.Pseudonym, micros(stamp(d.Created)), d.Kind, d.Name)
		switch {
		case s.db.dialect.foreignKey(err):
			return errNoAccount
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "device id exists already", err)
		case err != nil:
			return internal("register device", err)
		}
		out, err = scanDevice(r.row(ctx, `SELECT `+deviceColumns+` FROM devices WHERE account = ? AND pseudonym = ?`,
			string(d.Account), d.Pseudonym), d.Account)
		if err != nil {
			return internal("register device", err)
		}
		return nil
	})
	return out, err
}

// Devices lists an account's devices, oldest first; none for an unknown
// account.
func (s *RegionStore) Devices(ctx context.Context, account candor.AccountID) ([]store.Device, error) {
	return queryAll(ctx, s.db.reader(), "list devices", func(sc scanner) (store.Device, error) {
		return scanDevice(sc, account)
	}, `SELECT `+deviceColumns+` FROM devices WHERE account = ? ORDER BY created_us, id`, string(account))
}

// DeleteDevices deletes those of the account's devices among ids that are
// of kind (never phones: kind must not be empty), with their messaging
// rows, in one transaction, and returns how many it deleted.
func (s *RegionStore) DeleteDevices(ctx context.Context, account candor.AccountID, kind string, ids []candor.DeviceID) (int, error) {
	switch {
	case kind == "":
		return 0, candor.E(candor.Invalid, "phones are not deleted by kind")
	case len(ids) > store.MaxDeleteDevices:
		return 0, candor.Errorf(candor.Invalid, "at most %d devices at once", store.MaxDeleteDevices)
	case len(ids) == 0:
		return 0, nil
	}
	n := 0
	err := s.db.inTx(ctx, func(r runner) error {
		n = 0
		args := make([]any, 0, 2+len(ids))
		args = append(args, string(account), kind)
		for _, id := range ids {
			args = append(args, string(id))
		}
		found, err := queryAll(ctx, r, "delete devices", func(sc scanner) (candor.DeviceID, error) {
			var id candor.DeviceID
			return id, sc.Scan(&id)
		}, `SELECT id FROM devices WHERE account = ? AND kind = ? AND id IN (`+placeholders(len(ids), 1)+`)`, args...)
		if err != nil {
			return err
		}
		for _, id := range found {
			if err := deleteMessaging(ctx, r, account, id); err != nil {
				return err
			}
			if _, err := r.exec(ctx, `DELETE FROM devices WHERE account = ? AND id = ?`, string(account), string(id)); err != nil {
				return internal("delete devices", err)
			}
		}
		n = len(found)
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.db.scrub(ctx)
}
