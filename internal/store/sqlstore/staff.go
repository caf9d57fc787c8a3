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

// Roles are stored joined by commas, in the order given.
const roleSep = ","

// validRole reports whether r is a lowercase word as roles are stored: a
// letter a–z followed by letters, digits, '-' or '_'. It never holds the
// separator, so joined roles split back into the same list.
func validRole(r string) bool {
	if r == "" || r[0] < 'a' || r[0] > 'z' {
		return false
	}
	for i := 1; i < len(r); i++ {
		c := r[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func joinRoles(roles []string) (string, error) {
	for _, r := range roles {
		if !validRole(r) {
			return "", candor.Errorf(candor.Invalid, "role %q is not a lowercase word", r)
		}
	}
	return strings.Join(roles, roleSep), nil
}

func splitRoles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, roleSep)
}

// CreateStaff stores a staff identity; Conflict if the id or the token hash
// exists. The id and token hash must be set and every role a lowercase word
// (a–z, then a–z, 0–9, '-' or '_'), or it fails with Invalid. A zero
// Created is stored as the time of the call; a non-zero Revoked is kept.
// rec is appended in the same transaction,
// unless it fails.
func (s *DirectoryStore) CreateStaff(ctx context.Context, rec store.AuditRecord, st store.Staff) error {
	if st.ID == "" || len(st.TokenHash) == 0 {
		return candor.E(candor.Invalid, "staff identity needs an id and a token hash")
	}
	roles, err := joinRoles(st.Roles)
	if err != nil {
		return err
	}
	var revoked sql.NullInt64
	if !st.Revoked.IsZero() {
		revoked = sql.NullInt64{Int64: micros(stamp(st.Revoked)), Valid: true}
	}
	return s.auditLog.access(ctx, rec, func(r runner) error {
		_, err := r.exec(ctx, `INSERT INTO staff (id, name, roles, token_hash, created_us, revoked_us) VALUES (?, ?, ?, ?, ?, ?)`,
			st.ID, st.Name, roles, st.TokenHash, micros(stamp(st.Created)), revoked)
		switch {
		case s.db.dialect.unique(err):
			return candor.Wrap(candor.Conflict, "staff id or token exists already", err)
		case err != nil:
			return internal("create staff", err)
		}
		return nil
	})
}

const staffColumns = `id, name, roles, token_hash, created_us, revoked_us`

// scanStaff reads one row of staffColumns.
func scanStaff(sc scanner) (store.Staff, error) {
	var st store.Staff
	var roles string
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&st.ID, &st.Name, &roles, &st.TokenHash, &created, &revoked); err != nil {
		return store.Staff{}, err
	}
	st.Roles = splitRoles(roles)
	st.Created = fromMicros(created)
	if revoked.Valid {
		st.Revoked = fromMicros(revoked.Int64)
	}
	return st, nil
}

// StaffByToken returns the identity with this token hash, revoked or not;
// NotFound if none. Callers check Revoked.
func (s *DirectoryStore) StaffByToken(ctx context.Context, tokenHash []byte) (store.Staff, error) {
	st, err := scanStaff(s.db.reader().row(ctx, `SELECT `+staffColumns+` FROM staff WHERE token_hash = ?`, tokenHash))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Staff{}, candor.E(candor.NotFound, "no such staff identity")
	case err != nil:
		return store.Staff{}, internal("read staff", err)
	}
	return st, nil
}

// ListStaff lists every identity, revoked ones included, oldest first (by
// Created, then by ID).
func (s *DirectoryStore) ListStaff(ctx context.Context) ([]store.Staff, error) {
	return queryAll(ctx, s.db.reader(), "list staff", scanStaff, `SELECT `+staffColumns+` FROM staff ORDER BY created_us, id`)
}

// RevokeStaff marks an identity revoked at the given time (the time of the
// call when at is zero); NotFound if none. Revoking a revoked identity keeps
// the first time. It is one statement: of concurrent revocations the first
// to run sets the time. rec is appended in the
// same transaction, unless it fails.
func (s *DirectoryStore) RevokeStaff(ctx context.Context, rec store.AuditRecord, id string, at time.Time) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateOne(ctx, r, "revoke staff", "no such staff identity",
			`UPDATE staff SET revoked_us = COALESCE(revoked_us, ?) WHERE id = ?`, micros(stamp(at)), id)
	})
}

// updateOne runs an UPDATE of op that should match one row, and fails with
// NotFound and the message notFound if it matches none.
func updateOne(ctx context.Context, r runner, op, notFound, query string, args ...any) error {
	res, err := r.exec(ctx, query, args...)
	if err != nil {
		return internal(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal(op, err)
	}
	if n == 0 {
		return candor.E(candor.NotFound, notFound)
	}
	return nil
}
