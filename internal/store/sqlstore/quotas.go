package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var (
	_ store.Quotas        = (*DirectoryStore)(nil)
	_ store.Verifications = (*DirectoryStore)(nil)
)

// Spend adds n uses to key's allowance unless that would pass limit; see
// store.Quotas. Taking is one upsert whose update applies only while the
// sum stays within limit, so instances racing on one key never overspend.
func (s *DirectoryStore) Spend(ctx context.Context, key []byte, now time.Time, length time.Duration, n, limit int) (store.Quota, bool, error) {
	if len(key) == 0 || length <= 0 {
		return store.Quota{}, false, candor.E(candor.Invalid, "a quota needs a key and a window")
	}
	cutoff := micros(now.Add(-length))
	if n <= 0 {
		if n < 0 {
			if _, err := s.db.writer().exec(ctx, `UPDATE quotas SET used = CASE WHEN used + ? < 0 THEN 0 ELSE used + ? END
				WHERE key = ? AND start_us > ?`, n, n, key, cutoff); err != nil {
				return store.Quota{}, false, internal("give back a quota", err)
			}
		}
		q, err := s.quota(ctx, key, now, cutoff)
		return q, err == nil && q.Used <= limit, err
	}
	if n > limit {
		q, err := s.quota(ctx, key, now, cutoff)
		return q, false, err
	}
	var used, start int64
	err := s.db.writer().row(ctx, `INSERT INTO quotas (key, start_us, ends_us, used) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			used = CASE WHEN quotas.start_us <= ? THEN excluded.used ELSE quotas.used + excluded.used END,
			ends_us = CASE WHEN quotas.start_us <= ? THEN excluded.ends_us ELSE quotas.ends_us END,
			start_us = CASE WHEN quotas.start_us <= ? THEN excluded.start_us ELSE quotas.start_us END
		WHERE (CASE WHEN quotas.start_us <= ? THEN 0 ELSE quotas.used END) + excluded.used <= ?
		RETURNING used, start_us`,
		key, micros(now), micros(now.Add(length)), n, cutoff, cutoff, cutoff, cutoff, limit).Scan(&used, &start)
	switch {
	case errors.Is(err, sql.ErrNoRows): // over the limit: nothing was written
		q, err := s.quota(ctx, key, now, cutoff)
		return q, false, err
	case err != nil:
		return store.Quota{}, false, internal("spend a quota", err)
	}
	return store.Quota{Used: int(used), Start: fromMicros(start)}, true, nil
}

// quota reads key's allowance as of now: a window that began at or before
// cutoff is over, and reads as unused from now.
func (s *DirectoryStore) quota(ctx context.Context, key []byte, now time.Time, cutoff int64) (store.Quota, error) {
	var used, start int64
	err := s.db.writer().row(ctx, `SELECT used, start_us FROM quotas WHERE key = ?`, key).Scan(&used, &start)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Quota{Start: now}, nil
	case err != nil:
		return store.Quota{}, internal("read a quota", err)
	case start <= cutoff:
		return store.Quota{Start: now}, nil
	}
	return store.Quota{Used: int(used), Start: fromMicros(start)}, nil
}

// DeleteEndedQuotas forgets allowances whose window ended by now.
func (s *DirectoryStore) DeleteEndedQuotas(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.writer().exec(ctx, `DELETE FROM quotas WHERE ends_us <= ?`, micros(now))
	if err != nil {
		return 0, internal("delete old quotas", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PutVerification replaces the account's waiting code.
func (s *DirectoryStore) PutVerification(ctx context.Context, v store.Verification) error {
	if v.Account == "" || len(v.MAC) == 0 {
		return candor.E(candor.Invalid, "a verification needs an account and a MAC")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO verifications (account, mac, expires_us) VALUES (?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET mac = excluded.mac, expires_us = excluded.expires_us`,
		string(v.Account), v.MAC, micros(v.Expires))
	if err != nil {
		return internal("store a verification", err)
	}
	return nil
}

// Verification returns the account's waiting code; NotFound if none.
func (s *DirectoryStore) Verification(ctx context.Context, account candor.AccountID) (store.Verification, error) {
	v := store.Verification{Account: account}
	var expires int64
	err := s.db.writer().row(ctx, `SELECT mac, expires_us FROM verifications WHERE account = ?`, string(account)).Scan(&v.MAC, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Verification{}, candor.E(candor.NotFound, "no code waits for this account")
	case err != nil:
		return store.Verification{}, internal("read a verification", err)
	}
	v.Expires = fromMicros(expires)
	return v, nil
}

// TakeVerification deletes the account's waiting code if it is mac and has
// not expired, in one statement: of two instances taking one code, one
// succeeds.
func (s *DirectoryStore) TakeVerification(ctx context.Context, account candor.AccountID, mac []byte, now time.Time) (bool, error) {
	res, err := s.db.writer().exec(ctx, `DELETE FROM verifications WHERE account = ? AND mac = ? AND expires_us > ?`,
		string(account), mac, micros(now))
	if err != nil {
		return false, internal("take a verification", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteVerification forgets the account's waiting code.
func (s *DirectoryStore) DeleteVerification(ctx context.Context, account candor.AccountID) error {
	if _, err := s.db.writer().exec(ctx, `DELETE FROM verifications WHERE account = ?`, string(account)); err != nil {
		return internal("delete a verification", err)
	}
	return nil
}

// DeleteExpiredVerifications forgets codes that expired before now.
func (s *DirectoryStore) DeleteExpiredVerifications(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.writer().exec(ctx, `DELETE FROM verifications WHERE expires_us < ?`, micros(now))
	if err != nil {
		return 0, internal("delete expired verifications", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
