package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// DirectoryStore is the global directory, in SQLite or PostgreSQL. It is
// safe for concurrent use.
type DirectoryStore struct {
	db *db
	// auditLog is the directory's log; its store.AuditLog methods are the
	// store's.
	*auditLog
}

func newDirectoryStore(d *db) *DirectoryStore {
	return &DirectoryStore{db: d, auditLog: &auditLog{db: d, auditTables: directoryAudit}}
}

var _ store.Directory = (*DirectoryStore)(nil)

// Close closes the database. With SQLite it checkpoints and removes the
// write-ahead log.
func (s *DirectoryStore) Close() error { return s.db.close() }

// CreateEntry stores an entry, with its Moving mark if set; Conflict if the
// account or the handle exists.
func (s *DirectoryStore) CreateEntry(ctx context.Context, e store.Entry) error {
	if e.Account == "" || len(e.Handle) == 0 {
		return candor.E(candor.Invalid, "directory entry needs an account and a handle")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO directory_entries (account, handle, region, created_us, moving)
		VALUES (?, ?, ?, ?, ?)`,
		string(e.Account), e.Handle, string(e.Region), micros(stamp(e.Created)), nullable(string(e.Moving)))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "account or handle exists already", err)
	case err != nil:
		return internal("create directory entry", err)
	}
	return nil
}

// EntryByHandle returns the entry for a handle, with its Moving mark;
// NotFound if none.
func (s *DirectoryStore) EntryByHandle(ctx context.Context, handle []byte) (store.Entry, error) {
	return s.entry(ctx, `SELECT `+entryColumns+` FROM directory_entries WHERE handle = ?`, handle)
}

// Entry returns the entry of an account, with its Moving mark; NotFound
// if none.
func (s *DirectoryStore) Entry(ctx context.Context, account candor.AccountID) (store.Entry, error) {
	return s.entry(ctx, `SELECT `+entryColumns+` FROM directory_entries WHERE account = ?`, string(account))
}

const entryColumns = `account, handle, region, created_us, COALESCE(moving, '')`

func (s *DirectoryStore) entry(ctx context.Context, query string, key any) (store.Entry, error) {
	var e store.Entry
	var created int64
	err := s.db.reader().row(ctx, query, key).Scan(&e.Account, &e.Handle, &e.Region, &created, &e.Moving)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Entry{}, errNoEntry
	case err != nil:
		return store.Entry{}, internal("read directory entry", err)
	}
	e.Created = fromMicros(created)
	return e, nil
}

// DeleteEntry removes an account's entry, all its sessions, all its shred
// secrets, its messaging numbers and its owner setting (SetOwnerApproval),
// in one transaction. Deleting an absent entry is not an error; the
// sessions, secrets, numbers and setting of the account go even then. Access requests for the account are
// staff records and stay. rec is appended in the
// same transaction, unless it fails.
func (s *DirectoryStore) DeleteEntry(ctx context.Context, rec store.AuditRecord, account candor.AccountID) error {
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		return execAll(ctx, r, "delete directory entry", []string{
			`DELETE FROM sessions WHERE account = ?`,
			`DELETE FROM shred_secrets WHERE account = ?`,
			`DELETE FROM numbers WHERE account = ?`,
			`DELETE FROM owner_settings WHERE account = ?`,
			`DELETE FROM directory_entries WHERE account = ?`,
		}, string(account))
	})
	if err != nil {
		return err
	}
	return s.db.scrub(ctx)
}

// CreateSession stores a session; Conflict if its token hash exists.
func (s *DirectoryStore) CreateSession(ctx context.Context, ss store.Session) error {
	if len(ss.TokenHash) == 0 {
		return candor.E(candor.Invalid, "session has no token hash")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO sessions (token_hash, account, device, created_us, expires_us)
		VALUES (?, ?, ?, ?, ?)`,
		ss.TokenHash, string(ss.Account), string(ss.Device), micros(stamp(ss.Created)), micros(ss.Expires.UTC()))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "session exists already", err)
	case err != nil:
		return internal("create session", err)
	}
	return nil
}

// Session returns the session with this token hash; NotFound if none. It
// does not check expiry.
func (s *DirectoryStore) Session(ctx context.Context, tokenHash []byte) (store.Session, error) {
	ss := store.Session{}
	var created, expires int64
	err := s.db.reader().row(ctx, `SELECT token_hash, account, device, created_us, expires_us FROM sessions
		WHERE token_hash = ?`, tokenHash).Scan(&ss.TokenHash, &ss.Account, &ss.Device, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Session{}, candor.E(candor.NotFound, "session not found")
	case err != nil:
		return store.Session{}, internal("read session", err)
	}
	ss.Created, ss.Expires = fromMicros(created), fromMicros(expires)
	return ss, nil
}

// DeleteSession revokes one session; absent is not an error.
func (s *DirectoryStore) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return internal("delete session", err)
	}
	return nil
}

// DeleteDeviceSessions revokes every session of one device.
func (s *DirectoryStore) DeleteDeviceSessions(ctx context.Context, account candor.AccountID, device candor.DeviceID) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM sessions WHERE account = ? AND device = ?`,
		string(account), string(device)); err != nil {
		return internal("delete device sessions", err)
	}
	return nil
}

// SignedInDevices lists the devices of an account holding a session that
// has not expired at now, each once (by the sessions_device index).
func (s *DirectoryStore) SignedInDevices(ctx context.Context, account candor.AccountID, now time.Time) ([]candor.DeviceID, error) {
	return queryAll(ctx, s.db.reader(), "list signed-in devices", func(row scanner) (candor.DeviceID, error) {
		var id string
		err := row.Scan(&id)
		return candor.DeviceID(id), err
	}, `SELECT DISTINCT device FROM sessions WHERE account = ? AND expires_us > ? ORDER BY device`, string(account), micros(now))
}

// DeleteExpiredSessions removes the sessions whose Expires is before now
// and reports how many.
func (s *DirectoryStore) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.writer().exec(ctx, `DELETE FROM sessions WHERE expires_us < ?`, micros(now))
	if err != nil {
		return 0, internal("delete expired sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal("delete expired sessions", err)
	}
	return int(n), nil
}

// LoginFailed records a failed login for handle at now and returns the
// attempts so far. When the first failure counted is older than window
// (First before now-window) the count restarts at one failure with First =
// now. It is one atomic statement: concurrent failures are all counted.
func (s *DirectoryStore) LoginFailed(ctx context.Context, handle []byte, now time.Time, window time.Duration) (store.Attempts, error) {
	if len(handle) == 0 {
		return store.Attempts{}, candor.E(candor.Invalid, "handle is empty")
	}
	t := micros(now)
	cutoff := micros(now.Add(-window))
	var a store.Attempts
	var first, last int64
	err := s.db.writer().row(ctx, `INSERT INTO login_attempts (handle, failures, first_us, last_us) VALUES (?, 1, ?, ?)
		ON CONFLICT (handle) DO UPDATE SET
			failures = CASE WHEN login_attempts.first_us < ? THEN 1 ELSE login_attempts.failures + 1 END,
			first_us = CASE WHEN login_attempts.first_us < ? THEN excluded.first_us ELSE login_attempts.first_us END,
			last_us = excluded.last_us
		RETURNING failures, first_us, last_us`,
		handle, t, t, cutoff, cutoff).Scan(&a.Failures, &first, &last)
	if err != nil {
		return store.Attempts{}, internal("record failed login", err)
	}
	a.First, a.Last = fromMicros(first), fromMicros(last)
	return a, nil
}

// LoginAttempts returns the recorded failures of handle (zero if none).
func (s *DirectoryStore) LoginAttempts(ctx context.Context, handle []byte) (store.Attempts, error) {
	var a store.Attempts
	var first, last int64
	err := s.db.reader().row(ctx, `SELECT failures, first_us, last_us FROM login_attempts WHERE handle = ?`, handle).
		Scan(&a.Failures, &first, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Attempts{}, nil
	case err != nil:
		return store.Attempts{}, internal("read login attempts", err)
	}
	a.First, a.Last = fromMicros(first), fromMicros(last)
	return a, nil
}

// LoginSucceeded clears the failures of handle.
func (s *DirectoryStore) LoginSucceeded(ctx context.Context, handle []byte) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM login_attempts WHERE handle = ?`, handle); err != nil {
		return internal("clear login attempts", err)
	}
	return nil
}

const systemKeyQuery = `SELECT version, wrapper, wrapped, created_us FROM system_keys WHERE name = ?`

func scanSystemKey(row scanner) (store.WrappedKey, error) {
	var k store.WrappedKey
	var created int64
	err := row.Scan(&k.Version, &k.Wrapper, &k.Wrapped, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.WrappedKey{}, candor.E(candor.NotFound, "no such system key")
	case err != nil:
		return store.WrappedKey{}, internal("read system key", err)
	}
	k.Created = fromMicros(created)
	return k, nil
}

// SystemKey returns a named system secret, wrapped by the root key;
// NotFound if none.
func (s *DirectoryStore) SystemKey(ctx context.Context, name string) (store.WrappedKey, error) {
	return scanSystemKey(s.db.reader().row(ctx, systemKeyQuery, name))
}

// PutSystemKey stores a named system secret unless one exists, in which case
// the stored one is returned and k is discarded. Concurrent callers all get
// the same key.
func (s *DirectoryStore) PutSystemKey(ctx context.Context, name string, k store.WrappedKey) (store.WrappedKey, error) {
	if name == "" {
		return store.WrappedKey{}, candor.E(candor.Invalid, "system key name is empty")
	}
	var out store.WrappedKey
	err := s.db.inTx(ctx, func(r runner) error {
		if _, err := r.exec(ctx, `INSERT INTO system_keys (name, version, wrapper, wrapped, created_us) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, k.Version, k.Wrapper, k.Wrapped, micros(stamp(k.Created))); err != nil {
			return internal("put system key", err)
		}
		var err error
		out, err = scanSystemKey(r.row(ctx, systemKeyQuery, name))
		return err
	})
	return out, err
}
