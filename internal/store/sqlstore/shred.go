package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

const shredSecretQuery = `SELECT version, wrapper, wrapped, created_us FROM shred_secrets
	WHERE account = ? AND category = ? AND epoch = ?`

func scanShredSecret(row scanner, account candor.AccountID, c candor.Category, epoch int64) (store.ShredSecret, error) {
	s := store.ShredSecret{Account: account, Category: c, Epoch: epoch}
	var created int64
	err := row.Scan(&s.Key.Version, &s.Key.Wrapper, &s.Key.Wrapped, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ShredSecret{}, candor.E(candor.NotFound, "no shred secret for this epoch")
	case err != nil:
		return store.ShredSecret{}, internal("read shred secret", err)
	}
	s.Key.Created = fromMicros(created)
	return s, nil
}

// PutShredSecret stores s unless a secret for (Account, Category, Epoch)
// exists, in which case the stored one is returned and s is discarded.
// Concurrent callers all get the same secret. Invalid if the account is
// empty, the category unknown or the epoch not positive.
func (s *DirectoryStore) PutShredSecret(ctx context.Context, ss store.ShredSecret) (store.ShredSecret, error) {
	switch {
	case ss.Account == "":
		return store.ShredSecret{}, candor.E(candor.Invalid, "shred secret has no account")
	case !ss.Category.Valid():
		return store.ShredSecret{}, candor.E(candor.Invalid, "unknown category")
	case ss.Epoch <= 0:
		return store.ShredSecret{}, candor.E(candor.Invalid, "shred secret needs a positive epoch")
	}
	var out store.ShredSecret
	err := s.db.inTx(ctx, func(r runner) error {
		if _, err := r.exec(ctx, `INSERT INTO shred_secrets (account, category, epoch, version, wrapper, wrapped, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, category, epoch) DO NOTHING`,
			string(ss.Account), string(ss.Category), ss.Epoch, ss.Key.Version, ss.Key.Wrapper, ss.Key.Wrapped,
			micros(stamp(ss.Key.Created))); err != nil {
			return internal("put shred secret", err)
		}
		var err error
		out, err = scanShredSecret(r.row(ctx, shredSecretQuery, string(ss.Account), string(ss.Category), ss.Epoch),
			ss.Account, ss.Category, ss.Epoch)
		return err
	})
	return out, err
}

// ShredSecret returns the secret of (account, category, epoch); NotFound if
// none.
func (s *DirectoryStore) ShredSecret(ctx context.Context, account candor.AccountID, c candor.Category, epoch int64) (store.ShredSecret, error) {
	return scanShredSecret(s.db.reader().row(ctx, shredSecretQuery, string(account), string(c), epoch), account, c, epoch)
}

// DeleteShredSecrets deletes the secrets of (account, category) for every
// epoch except keep (0 keeps none, epochs being positive) and reports how
// many. With SQLite, secure_delete overwrites them in the file and the
// write-ahead log is wiped before it returns (db.scrub) — whenever a
// secret went, and always for a whole category (keep 0: an opt-out, which
// may be asked again after a wipe that did not finish). A new epoch's
// clean-up that found nothing to delete (keep > 0) does not wipe: it is on
// the path of every first write of a category.
func (s *DirectoryStore) DeleteShredSecrets(ctx context.Context, account candor.AccountID, c candor.Category, keep int64) (int, error) {
	res, err := s.db.writer().exec(ctx, `DELETE FROM shred_secrets WHERE account = ? AND category = ? AND epoch <> ?`,
		string(account), string(c), keep)
	if err != nil {
		return 0, internal("delete shred secrets", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal("delete shred secrets", err)
	}
	if n == 0 && keep != 0 {
		return 0, nil
	}
	return int(n), s.db.scrub(ctx)
}

// ShredSecretsWrappedBefore returns up to limit secrets whose wrapper is
// below wrapper, the lowest first.
func (s *DirectoryStore) ShredSecretsWrappedBefore(ctx context.Context, wrapper int64, limit int) ([]store.ShredSecret, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	rows, err := s.db.reader().query(ctx, `SELECT account, category, epoch, version, wrapper, wrapped, created_us
		FROM shred_secrets WHERE wrapper < ? ORDER BY wrapper LIMIT ?`, wrapper, limit)
	if err != nil {
		return nil, internal("list shred secrets to rewrap", err)
	}
	defer rows.Close()
	var out []store.ShredSecret
	for rows.Next() {
		var ss store.ShredSecret
		var account, category string
		var created int64
		if err := rows.Scan(&account, &category, &ss.Epoch, &ss.Key.Version, &ss.Key.Wrapper, &ss.Key.Wrapped, &created); err != nil {
			return nil, internal("list shred secrets to rewrap", err)
		}
		ss.Account, ss.Category, ss.Key.Created = candor.AccountID(account), candor.Category(category), fromMicros(created)
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list shred secrets to rewrap", err)
	}
	return out, nil
}

// RewrapShredSecrets applies, in one transaction, each rewrap whose stored
// secret still has OldWrapper (one deleted or re-wrapped meanwhile is
// skipped), keeping its creation time, and reports how many it applied.
func (s *DirectoryStore) RewrapShredSecrets(ctx context.Context, rewraps []store.Rewrap) (int, error) {
	if len(rewraps) == 0 {
		return 0, nil
	}
	// One order for every caller, so that two instances re-wrapping at
	// once lock the rows in the same order (PostgreSQL).
	sorted := slices.Clone(rewraps)
	slices.SortFunc(sorted, func(a, b store.Rewrap) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Category, b.Category), cmp.Compare(a.Epoch, b.Epoch))
	})
	rewraps = sorted
	var applied int64
	err := s.db.inTx(ctx, func(r runner) error {
		applied = 0
		if s.db.dialect.batchWrites {
			for i := 0; i < len(rewraps); i += batchRows {
				n, err := rewrapShredBatch(ctx, r, rewraps[i:min(i+batchRows, len(rewraps))])
				if err != nil {
					return err
				}
				applied += n
			}
			return nil
		}
		stmt, err := r.prepare(ctx, `UPDATE shred_secrets SET version = ?, wrapper = ?, wrapped = ?
			WHERE account = ? AND category = ? AND epoch = ? AND wrapper = ?`)
		if err != nil {
			return internal("rewrap shred secrets", err)
		}
		defer stmt.Close()
		for _, rw := range rewraps {
			res, err := stmt.ExecContext(ctx, rw.Key.Version, rw.Key.Wrapper, rw.Key.Wrapped,
				string(rw.Account), string(rw.Category), rw.Epoch, rw.OldWrapper)
			if err != nil {
				return internal("rewrap shred secrets", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return internal("rewrap shred secrets", err)
			}
			applied += n
		}
		return nil
	})
	return int(applied), err
}

// rewrapShredBatch applies part in one statement: an UPDATE from a VALUES
// list, each row only where the stored secret still has its old wrapper.
func rewrapShredBatch(ctx context.Context, r runner, part []store.Rewrap) (int64, error) {
	values := `(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS ` + r.d.blobType + `),
		CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`
	args := make([]any, 0, 7*len(part))
	for _, rw := range part {
		args = append(args, rw.Key.Version, rw.Key.Wrapper, rw.Key.Wrapped,
			string(rw.Account), string(rw.Category), rw.Epoch, rw.OldWrapper)
	}
	res, err := r.exec(ctx, `WITH v (version, wrapper, wrapped, account, category, epoch, old_wrapper)
		AS (VALUES `+strings.TrimSuffix(strings.Repeat(values+", ", len(part)), ", ")+`)
		UPDATE shred_secrets SET version = v.version, wrapper = v.wrapper, wrapped = v.wrapped
		FROM v WHERE shred_secrets.account = v.account AND shred_secrets.category = v.category
			AND shred_secrets.epoch = v.epoch AND shred_secrets.wrapper = v.old_wrapper`, args...)
	if err != nil {
		return 0, internal("rewrap shred secrets", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal("rewrap shred secrets", err)
	}
	return n, nil
}
