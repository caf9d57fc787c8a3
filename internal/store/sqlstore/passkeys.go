package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.StaffPasskeys = (*DirectoryStore)(nil)

// Transports are stored joined by commas; a transport name never holds one.
const transportSep = ","

// AddPasskey stores a passkey; Conflict if its id exists; NotFound if the
// staff identity does not exist; Invalid if the id, staff, public key or a
// transport is malformed. A zero Created is stored as the time of the call.
// rec is appended in the same transaction, unless it fails.
func (s *DirectoryStore) AddPasskey(ctx context.Context, rec store.AuditRecord, p store.Passkey) error {
	switch {
	case len(p.ID) == 0 || len(p.ID) > 1023 || p.Staff == "" || len(p.PublicKey) == 0:
		return candor.E(candor.Invalid, "a passkey needs an id (at most 1023 bytes), a staff id and a public key")
	case len(p.Transports) > 16:
		return candor.E(candor.Invalid, "a passkey lists at most 16 transports")
	}
	for _, t := range p.Transports {
		if !validRole(t) {
			return candor.Errorf(candor.Invalid, "transport %q is not a lowercase word", t)
		}
	}
	if p.AAGUID == nil {
		p.AAGUID = []byte{}
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO staff_passkeys (id, staff, public_key, sign_count, aaguid, flags, transports, created_us, last_used_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Staff, p.PublicKey, int64(p.SignCount), p.AAGUID, int64(p.Flags),
			strings.Join(p.Transports, transportSep), micros(stamp(p.Created)), nullMicros(p.LastUsed))
		switch {
		case s.db.dialect.foreignKey(err):
			return candor.E(candor.NotFound, "no such staff identity")
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "this passkey is registered already", err)
		case err != nil:
			return internal("add passkey", err)
		}
		return nil
	})
}

const passkeyColumns = `id, staff, public_key, sign_count, aaguid, flags, transports, created_us, last_used_us`

func scanPasskey(sc scanner) (store.Passkey, error) {
	var p store.Passkey
	var count, flags, created int64
	var transports string
	var used sql.NullInt64
	if err := sc.Scan(&p.ID, &p.Staff, &p.PublicKey, &count, &p.AAGUID, &flags, &transports, &created, &used); err != nil {
		return store.Passkey{}, err
	}
	p.SignCount, p.Flags = uint32(count), uint8(flags)
	if transports != "" {
		p.Transports = strings.Split(transports, transportSep)
	}
	p.Created, p.LastUsed = fromMicros(created), fromNullMicros(used)
	return p, nil
}

// Passkey returns a passkey by credential id; NotFound if none.
func (s *DirectoryStore) Passkey(ctx context.Context, id []byte) (store.Passkey, error) {
	p, err := scanPasskey(s.db.reader().row(ctx, `SELECT `+passkeyColumns+` FROM staff_passkeys WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Passkey{}, candor.E(candor.NotFound, "no such passkey")
	case err != nil:
		return store.Passkey{}, internal("read passkey", err)
	}
	return p, nil
}

// PasskeysOf lists a staff member's passkeys, oldest first (by Created,
// then id); none for an unknown staff id.
func (s *DirectoryStore) PasskeysOf(ctx context.Context, staffID string) ([]store.Passkey, error) {
	return queryAll(ctx, s.db.reader(), "list passkeys", scanPasskey,
		`SELECT `+passkeyColumns+` FROM staff_passkeys WHERE staff = ? ORDER BY created_us, id`, staffID)
}

// UsePasskey records the counter an authenticator reported and the time of
// the use (the time of the call when at is zero), if the counter went up
// (or stays zero, for an authenticator without one): the condition is in
// the UPDATE, so that of two concurrent uses the lower counter is never
// stored over the higher. Conflict if the counter did not go up; NotFound
// if no such passkey.
func (s *DirectoryStore) UsePasskey(ctx context.Context, id []byte, signCount uint32, at time.Time) error {
	res, err := s.db.writer().exec(ctx, `UPDATE staff_passkeys SET sign_count = ?, last_used_us = ?
		WHERE id = ? AND (sign_count < ? OR sign_count = 0 AND ? = 0)`,
		int64(signCount), micros(stamp(at)), id, int64(signCount), int64(signCount))
	if err != nil {
		return internal("use passkey", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal("use passkey", err)
	}
	if n == 1 {
		return nil
	}
	if _, err := s.Passkey(ctx, id); err != nil {
		return err
	}
	return candor.E(candor.Conflict, "this passkey's counter did not go up")
}

// CreateStaffSession stores a session, deleting the sessions expired at
// its Created time first; Conflict if the hash exists; NotFound if the
// staff identity does not; Invalid without a hash, a staff id or an
// expiry after Created. rec is appended in the same transaction, unless
// it fails.
func (s *DirectoryStore) CreateStaffSession(ctx context.Context, rec store.AuditRecord, ss store.StaffSession) error {
	created := stamp(ss.Created)
	if len(ss.TokenHash) == 0 || ss.Staff == "" || ss.Expires.IsZero() || !stamp(ss.Expires).After(created) {
		return candor.E(candor.Invalid, "a staff session needs a token hash, a staff id and an expiry after its creation")
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		if _, err := r.exec(ctx, `DELETE FROM staff_sessions WHERE expires_us <= ?`, micros(created)); err != nil {
			return internal("delete expired staff sessions", err)
		}
		_, err := r.exec(ctx, `INSERT INTO staff_sessions (token_hash, staff, created_us, expires_us) VALUES (?, ?, ?, ?)`,
			ss.TokenHash, ss.Staff, micros(created), micros(ss.Expires))
		switch {
		case s.db.dialect.foreignKey(err):
			return candor.E(candor.NotFound, "no such staff identity")
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "staff session exists already", err)
		case err != nil:
			return internal("create staff session", err)
		}
		return nil
	})
}

// StaffSession returns a session by token hash, expired or not; NotFound
// if none.
func (s *DirectoryStore) StaffSession(ctx context.Context, tokenHash []byte) (store.StaffSession, error) {
	ss := store.StaffSession{}
	var created, expires int64
	err := s.db.reader().row(ctx, `SELECT token_hash, staff, created_us, expires_us FROM staff_sessions WHERE token_hash = ?`,
		tokenHash).Scan(&ss.TokenHash, &ss.Staff, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.StaffSession{}, candor.E(candor.NotFound, "no such staff session")
	case err != nil:
		return store.StaffSession{}, internal("read staff session", err)
	}
	ss.Created, ss.Expires = fromMicros(created), fromMicros(expires)
	return ss, nil
}

// DeleteStaffSession deletes a session; deleting none is not an error.
func (s *DirectoryStore) DeleteStaffSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return internal("delete staff session", err)
	}
	return nil
}

// StaffByID returns a staff identity, revoked or not; NotFound if none.
func (s *DirectoryStore) StaffByID(ctx context.Context, id string) (store.Staff, error) {
	st, err := scanStaff(s.db.reader().row(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Staff{}, candor.E(candor.NotFound, "no such staff identity")
	case err != nil:
		return store.Staff{}, internal("read staff", err)
	}
	return st, nil
}

// challengeLock serialises PutChallenge on PostgreSQL, so that its count
// and insert bound the waiting challenges exactly (SQLite's write
// transactions already exclude each other).
const challengeLock = "SELECT pg_advisory_xact_lock(hashtext('candor webauthn challenges ' || COALESCE(current_schema(), '')))"

// PutChallenge deletes the challenges expired at now, then stores c unless
// limit challenges of the same Staff wait already (ok is then false).
// Invalid without a challenge, a ceremony, a session or an expiry after
// now, or with limit < 1; Conflict if the challenge exists.
func (s *DirectoryStore) PutChallenge(ctx context.Context, c store.Challenge, limit int, now time.Time) (bool, error) {
	if c.Challenge == "" || len(c.Challenge) > 256 || c.Ceremony == "" || len(c.Session) == 0 || !c.Expires.After(now) || limit < 1 {
		return false, candor.E(candor.Invalid, "a challenge needs its value, a ceremony, a session, an expiry after now and a limit")
	}
	ok := false
	err := s.db.inTx(ctx, func(r runner) error {
		if s.db.dialect.name == "postgres" {
			if _, err := r.exec(ctx, challengeLock); err != nil {
				return internal("lock challenges", err)
			}
		}
		if _, err := r.exec(ctx, `DELETE FROM webauthn_challenges WHERE expires_us <= ?`, micros(now)); err != nil {
			return internal("delete expired challenges", err)
		}
		var n int
		if err := r.row(ctx, `SELECT COUNT(*) FROM webauthn_challenges WHERE staff = ?`, c.Staff).Scan(&n); err != nil {
			return internal("count challenges", err)
		}
		if n >= limit {
			return nil
		}
		_, err := r.exec(ctx, `INSERT INTO webauthn_challenges (challenge, ceremony, staff, request, session, expires_us)
			VALUES (?, ?, ?, ?, ?, ?)`, c.Challenge, c.Ceremony, c.Staff, c.Request, c.Session, micros(c.Expires))
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "this challenge exists already", err)
		case err != nil:
			return internal("put challenge", err)
		}
		ok = true
		return nil
	})
	return ok && err == nil, err
}

// TakeChallenge deletes a challenge and returns it: NotFound if it does not
// exist, was taken already (of two concurrent takes, one gets it) or
// expired at now.
func (s *DirectoryStore) TakeChallenge(ctx context.Context, challenge string, now time.Time) (store.Challenge, error) {
	c := store.Challenge{}
	var expires int64
	err := s.db.writer().row(ctx, `DELETE FROM webauthn_challenges WHERE challenge = ?
		RETURNING challenge, ceremony, staff, request, session, expires_us`, challenge).
		Scan(&c.Challenge, &c.Ceremony, &c.Staff, &c.Request, &c.Session, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Challenge{}, candor.E(candor.NotFound, "no such challenge")
	case err != nil:
		return store.Challenge{}, internal("take challenge", err)
	}
	c.Expires = fromMicros(expires)
	if !now.Before(c.Expires) {
		return store.Challenge{}, candor.E(candor.NotFound, "no such challenge")
	}
	return c, nil
}

// SpendChallenge records a sign-in challenge as answered, deleting the
// records expired at now first; Conflict if it was spent already; Invalid
// without a challenge (at most 256 characters) or an expiry after now.
func (s *DirectoryStore) SpendChallenge(ctx context.Context, challenge string, expires, now time.Time) error {
	if challenge == "" || len(challenge) > 256 || !expires.After(now) {
		return candor.E(candor.Invalid, "a spent challenge needs its value and an expiry after now")
	}
	return s.db.inTx(ctx, func(r runner) error {
		if _, err := r.exec(ctx, `DELETE FROM webauthn_spent_challenges WHERE expires_us <= ?`, micros(now)); err != nil {
			return internal("delete expired spent challenges", err)
		}
		_, err := r.exec(ctx, `INSERT INTO webauthn_spent_challenges (challenge, expires_us) VALUES (?, ?)`, challenge, micros(expires))
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "this challenge was answered already", err)
		case err != nil:
			return internal("spend challenge", err)
		}
		return nil
	})
}
