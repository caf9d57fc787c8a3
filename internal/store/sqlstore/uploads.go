package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.Uploads = (*RegionStore)(nil)

const uploadColumns = `id, account, category, size, hash, complete, created_us, expires_us, shared_us`

func scanUpload(sc scanner) (store.Upload, error) {
	var u store.Upload
	var created, expires, shared int64
	err := sc.Scan(&u.ID, &u.Account, &u.Category, &u.Size, &u.Hash, &u.Complete, &created, &expires, &shared)
	u.Created, u.Expires, u.Shared = fromMicros(created), fromMicros(expires), fromMicros(shared)
	return u, err
}

// CreateUpload stores an upload; Conflict if the id exists, NotFound if the
// account does not, Invalid if it is malformed.
func (s *RegionStore) CreateUpload(ctx context.Context, u store.Upload) error {
	if u.ID == "" || u.Account == "" || !u.Category.Valid() || u.Size < 0 || len(u.Hash) == 0 {
		return candor.E(candor.Invalid, "malformed upload")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO uploads (`+uploadColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, string(u.Account), string(u.Category), u.Size, u.Hash, u.Complete, micros(stamp(u.Created)), micros(stamp(u.Expires)),
		micros(u.Shared))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "the upload exists already", err)
	case s.db.dialect.foreignKey(err):
		return candor.Wrap(candor.NotFound, "account not found", err)
	case err != nil:
		return internal("create upload", err)
	}
	return nil
}

func (s *RegionStore) upload(ctx context.Context, query string, args ...any) (store.Upload, error) {
	return readUpload(ctx, s.db.reader(), query, args...)
}

func readUpload(ctx context.Context, r runner, query string, args ...any) (store.Upload, error) {
	u, err := scanUpload(r.row(ctx, query, args...))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Upload{}, candor.E(candor.NotFound, "no such upload")
	case err != nil:
		return store.Upload{}, internal("read upload", err)
	}
	return u, nil
}

const uploadByID = `SELECT ` + uploadColumns + ` FROM uploads WHERE id = ? AND account = ?`

// Upload returns an account's upload; NotFound if none.
func (s *RegionStore) Upload(ctx context.Context, account candor.AccountID, id string) (store.Upload, error) {
	return s.upload(ctx, uploadByID, id, string(account))
}

// OpenUpload returns an account's complete upload for reading its blob and
// appends rec in the same transaction; NotFound if none (or not complete),
// and then rec is not appended.
func (s *RegionStore) OpenUpload(ctx context.Context, rec store.AuditRecord, account candor.AccountID, id string) (store.Upload, error) {
	var u store.Upload
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		var err error
		u, err = readUpload(ctx, r, uploadByID+` AND complete = ?`, id, string(account), true)
		return err
	})
	return u, err
}

// UploadByHash returns an account's complete upload of a category with the
// keyed hash; NotFound if none.
func (s *RegionStore) UploadByHash(ctx context.Context, account candor.AccountID, c candor.Category, hash []byte) (store.Upload, error) {
	return s.upload(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE account = ? AND category = ? AND hash = ? AND complete = ?
		ORDER BY created_us LIMIT 1`, string(account), string(c), hash, true)
}

// CompleteUpload marks an upload complete and appends rec in the same
// transaction; NotFound if none.
func (s *RegionStore) CompleteUpload(ctx context.Context, rec store.AuditRecord, account candor.AccountID, id string) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateUpload(ctx, r, "complete upload", account, id, `complete = ?`, true)
	})
}

// ShareUpload moves an upload's shared time later, never earlier.
func (s *RegionStore) ShareUpload(ctx context.Context, account candor.AccountID, id string, at time.Time) error {
	return updateUpload(ctx, s.db.writer(), "share upload", account, id, later("shared_us"), micros(at), micros(at))
}

// ExtendUpload moves an upload's expiry later, never earlier, and appends
// rec in the same transaction.
func (s *RegionStore) ExtendUpload(ctx context.Context, rec store.AuditRecord, account candor.AccountID, id string, expires time.Time) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		return updateUpload(ctx, r, "extend upload", account, id, later("expires_us"), micros(expires), micros(expires))
	})
}

// later is the SET clause that moves a time column to a later time (the
// argument, given twice), never earlier.
func later(column string) string {
	return column + ` = CASE WHEN ` + column + ` < ? THEN ? ELSE ` + column + ` END`
}

// updateUpload runs UPDATE uploads SET set (with args) on one upload of
// account; NotFound if there is none. op names it in errors.
func updateUpload(ctx context.Context, r runner, op string, account candor.AccountID, id, set string, args ...any) error {
	return updateOne(ctx, r, op, "no such upload", `UPDATE uploads SET `+set+` WHERE id = ? AND account = ?`, append(args, id, string(account))...)
}

// ExpiredUploads lists up to limit incomplete uploads that expired before
// now, oldest first.
func (s *RegionStore) ExpiredUploads(ctx context.Context, now time.Time, limit int) ([]store.Upload, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	return queryAll(ctx, s.db.reader(), "list expired uploads", scanUpload,
		`SELECT `+uploadColumns+` FROM uploads WHERE complete = ? AND expires_us < ? ORDER BY expires_us LIMIT ?`,
		false, micros(now), limit)
}

// DeleteUpload removes an upload's row and appends rec in the same
// transaction; absent is not an error.
func (s *RegionStore) DeleteUpload(ctx context.Context, rec store.AuditRecord, account candor.AccountID, id string) error {
	return s.auditLog.access(ctx, rec, func(r runner) error {
		if _, err := r.exec(ctx, `DELETE FROM uploads WHERE id = ? AND account = ?`, id, string(account)); err != nil {
			return internal("delete upload", err)
		}
		return nil
	})
}

// UploadUsage sums up the complete uploads of (account, category) in one
// aggregate query over the uploads_hash index's (account, category) range.
func (s *RegionStore) UploadUsage(ctx context.Context, account candor.AccountID, c candor.Category) (store.Usage, error) {
	return usage(ctx, s.db.reader(), "sum up uploads", usageOfUploads, string(account), string(c))
}

// usageOfUploads filters on complete inside the sums, not in WHERE: there,
// SQLite would rather search the uploads_expires index by complete alone,
// that is every complete upload of the region.
const usageOfUploads = `SELECT
	CAST(COALESCE(SUM(CASE WHEN complete THEN 1 ELSE 0 END), 0) AS BIGINT),
	CAST(COALESCE(SUM(CASE WHEN complete THEN size ELSE 0 END), 0) AS BIGINT),
	MAX(CASE WHEN complete THEN created_us END)
	FROM uploads WHERE account = ? AND category = ?`
