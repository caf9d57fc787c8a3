package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// PutKEK stores a new version of this region's key-encryption key;
// Conflict if the version exists.
func (s *RegionStore) PutKEK(ctx context.Context, k store.WrappedKey) error {
	_, err := s.db.writer().exec(ctx, `INSERT INTO keks (version, wrapper, wrapped, created_us) VALUES (?, ?, ?, ?)`,
		k.Version, k.Wrapper, k.Wrapped, micros(stamp(k.Created)))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, "key version exists already", err)
	case err != nil:
		return internal("put kek", err)
	}
	return nil
}

// KEKs lists all stored KEK versions, by version ascending.
func (s *RegionStore) KEKs(ctx context.Context) ([]store.WrappedKey, error) {
	return queryAll(ctx, s.db.reader(), "list keks", func(sc scanner) (store.WrappedKey, error) {
		var k store.WrappedKey
		var created int64
		err := sc.Scan(&k.Version, &k.Wrapper, &k.Wrapped, &created)
		k.Created = fromMicros(created)
		return k, err
	}, `SELECT version, wrapper, wrapped, created_us FROM keks ORDER BY version`)
}

const dataKeyQuery = `SELECT epoch, version, wrapper, wrapped, created_us FROM data_keys WHERE account = ? AND category = ?`

func scanDataKey(row scanner, account candor.AccountID, c candor.Category) (store.DataKey, error) {
	k := store.DataKey{Account: account, Category: c}
	var created int64
	err := row.Scan(&k.Epoch, &k.Key.Version, &k.Key.Wrapper, &k.Key.Wrapped, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.DataKey{}, candor.E(candor.NotFound, "no data key for this category")
	case err != nil:
		return store.DataKey{}, internal("read data key", err)
	}
	k.Key.Created = fromMicros(created)
	return k, nil
}

// DataKey returns the data key of (account, category); NotFound if none.
func (s *RegionStore) DataKey(ctx context.Context, account candor.AccountID, c candor.Category) (store.DataKey, error) {
	return scanDataKey(s.db.reader().row(ctx, dataKeyQuery, string(account), string(c)), account, c)
}

// CreateDataKey stores k unless a key for (account, category) exists, in
// which case the existing one is returned and k is discarded. In the same
// transaction it checks that the category's latest consent event is "on"
// with Seq == k.Epoch, and fails with ConsentRequired otherwise (also when
// the epoch differs). NotFound if the account does not exist.
//
// It fails with ErrNoKEK (Conflict), writing nothing, unless the KEK
// version k.Key.Wrapper is stored: a key wrapped by a version that was
// retired (by another instance, whose rotation this caller has not seen)
// could never be opened again. The version's row stays locked until the
// transaction ends (PostgreSQL), so a DeleteKEK of it either waits and then
// sees the new key, or deletes first and this call fails.
func (s *RegionStore) CreateDataKey(ctx context.Context, k store.DataKey) (store.DataKey, error) {
	var out store.DataKey
	err := s.db.inTx(ctx, func(r runner) error {
		if _, err := s.lockAccount(ctx, r, k.Account); err != nil {
			return err
		}
		if err := checkEpoch(ctx, r, k.Account, k.Category, k.Epoch, candor.ErrConsent(k.Category)); err != nil {
			return err
		}
		if err := holdKEK(ctx, r, k.Key.Wrapper); err != nil {
			return err
		}
		if _, err := r.exec(ctx, `INSERT INTO data_keys (account, category, epoch, version, wrapper, wrapped, created_us)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, category) DO NOTHING`,
			string(k.Account), string(k.Category), k.Epoch, k.Key.Version, k.Key.Wrapper, k.Key.Wrapped,
			micros(stamp(k.Key.Created))); err != nil {
			return internal("create data key", err)
		}
		var err error
		out, err = scanDataKey(r.row(ctx, dataKeyQuery, string(k.Account), string(k.Category)), k.Account, k.Category)
		return err
	})
	return out, err
}

const dataKeyColumns = `account, category, epoch, version, wrapper, wrapped, created_us`

// DataKeysWrappedBefore lists up to limit data keys whose wrapper (the KEK
// version) is below kekVersion, ordered by account then category. Invalid
// if limit is not positive.
//
// It costs a few index lookups per KEK version in use below kekVersion and
// limit rows, however many keys the region holds or were rewrapped already:
// the versions are found one by one in the wrapper index, the first limit
// keys of each are read from it in order, and only those are merged.
//
// Each version's keys are selected by a range of one value and ordered by
// wrapper first, which the wrapper index alone provides. With "wrapper = ?"
// PostgreSQL may instead read the primary key in (account, category) order
// and filter, which in the middle of a rotation walks past every key
// rewrapped so far, on every call.
func (s *RegionStore) DataKeysWrappedBefore(ctx context.Context, kekVersion int64, limit int) ([]store.DataKey, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	r := s.db.reader()
	var wrappers []int64
	for after := int64(math.MinInt64); ; {
		var w int64
		err := r.row(ctx, `SELECT wrapper FROM data_keys WHERE wrapper > ? AND wrapper < ? ORDER BY wrapper LIMIT 1`,
			after, kekVersion).Scan(&w)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, internal("list data keys to rewrap", err)
		}
		wrappers, after = append(wrappers, w), w
	}
	if len(wrappers) == 0 {
		return nil, nil
	}
	const one = `SELECT ` + dataKeyColumns + ` FROM data_keys WHERE wrapper >= ? AND wrapper <= ?
		ORDER BY wrapper, account, category LIMIT ?`
	query, args := one, []any{wrappers[0], wrappers[0], limit}
	if len(wrappers) > 1 {
		parts := make([]string, len(wrappers))
		args = args[:0]
		for i, w := range wrappers {
			parts[i] = fmt.Sprintf(`SELECT * FROM (%s) AS w%d`, one, i)
			args = append(args, w, w, limit)
		}
		query = strings.Join(parts, ` UNION ALL `) + ` ORDER BY account, category LIMIT ?`
		args = append(args, limit)
	}
	return queryAll(ctx, r, "list data keys to rewrap", func(sc scanner) (store.DataKey, error) {
		var k store.DataKey
		var created int64
		err := sc.Scan(&k.Account, &k.Category, &k.Epoch, &k.Key.Version, &k.Key.Wrapper, &k.Key.Wrapped, &created)
		k.Key.Created = fromMicros(created)
		return k, err
	}, query, args...)
}

// CountDataKeys counts the data keys by the KEK version that wraps them;
// versions that wrap no key are absent.
func (s *RegionStore) CountDataKeys(ctx context.Context) (map[int64]int, error) {
	counts := map[int64]int{}
	err := queryEach(ctx, s.db.reader(), "count data keys", func(sc scanner) error {
		var w int64
		var n int
		if err := sc.Scan(&w, &n); err != nil {
			return err
		}
		counts[w] = n
		return nil
	}, `SELECT wrapper, COUNT(*) FROM data_keys GROUP BY wrapper`)
	if err != nil {
		return nil, err
	}
	return counts, nil
}

// RewrapDataKeys applies, in one transaction, each rewrap whose stored key
// still has the rewrap's Epoch and OldWrapper, and returns how many were
// applied. The others are skipped: their key was destroyed (consent turned
// off, account deleted) or changed meanwhile. Key replaces the stored key
// whole: Version, Wrapper, Wrapped and Created (the time of the call when
// zero). Invalid, writing nothing, if two rewraps name the same (Account,
// Category).
//
// A rewrap only ever updates the row it names, under its conditions, so a
// key destroyed by a concurrent consent change is never written back, and
// one whose epoch or wrapper changed is left alone. The rewraps are applied
// in (account, category) order. In PostgreSQL they go batchRows per
// statement, after locking their accounts' rows in the same order, as every
// transaction that changes an account's keys does: a consent change or
// account deletion running at the same time waits for the whole call or is
// waited for, and cannot deadlock with it. In SQLite, whose writers are
// serialised already, one prepared statement runs per rewrap.
func (s *RegionStore) RewrapDataKeys(ctx context.Context, rewraps []store.Rewrap) (int, error) {
	if len(rewraps) == 0 {
		return 0, nil
	}
	sorted := slices.Clone(rewraps)
	slices.SortFunc(sorted, func(a, b store.Rewrap) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Category, b.Category))
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Account == sorted[i-1].Account && sorted[i].Category == sorted[i-1].Category {
			return 0, candor.E(candor.Invalid, "two rewraps of one data key")
		}
	}
	now := stamp(time.Time{})
	row := func(rw store.Rewrap) []any {
		created := now
		if !rw.Key.Created.IsZero() {
			created = stamp(rw.Key.Created)
		}
		return []any{rw.Key.Version, rw.Key.Wrapper, rw.Key.Wrapped, micros(created),
			string(rw.Account), string(rw.Category), rw.Epoch, rw.OldWrapper}
	}
	var applied int64
	err := s.db.inTx(ctx, func(r runner) error {
		applied = 0
		if s.db.dialect.batchWrites {
			for i := 0; i < len(sorted); i += batchRows {
				n, err := rewrapBatch(ctx, r, sorted[i:min(i+batchRows, len(sorted))], row)
				if err != nil {
					return err
				}
				applied += n
			}
			return nil
		}
		stmt, err := r.prepare(ctx, `UPDATE data_keys SET version = ?, wrapper = ?, wrapped = ?, created_us = ?
			WHERE account = ? AND category = ? AND epoch = ? AND wrapper = ?`)
		if err != nil {
			return internal("rewrap data keys", err)
		}
		defer stmt.Close()
		for _, rw := range sorted {
			res, err := stmt.ExecContext(ctx, row(rw)...)
			if err != nil {
				return internal("rewrap data keys", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return internal("rewrap data keys", err)
			}
			applied += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return int(applied), nil
}

// rewrapBatch applies part of RewrapDataKeys in one statement, after
// locking the accounts' rows: an UPDATE joined against a VALUES list of the
// rows row gives (version, wrapper, wrapped, created, account, category,
// epoch, old wrapper). The casts tell PostgreSQL the type of each parameter.
func rewrapBatch(ctx context.Context, r runner, part []store.Rewrap, row func(store.Rewrap) []any) (int64, error) {
	if err := lockAccounts(ctx, r, part); err != nil {
		return 0, err
	}
	const width = 8
	values := `(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS ` + r.d.blobType + `), CAST(? AS BIGINT),
		CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`
	args := make([]any, 0, width*len(part))
	for _, rw := range part {
		args = append(args, row(rw)...)
	}
	res, err := r.exec(ctx, `WITH v (version, wrapper, wrapped, created_us, account, category, epoch, old_wrapper)
		AS (VALUES `+strings.TrimSuffix(strings.Repeat(values+", ", len(part)), ", ")+`)
		UPDATE data_keys SET version = v.version, wrapper = v.wrapper, wrapped = v.wrapped, created_us = v.created_us
		FROM v WHERE data_keys.account = v.account AND data_keys.category = v.category
			AND data_keys.epoch = v.epoch AND data_keys.wrapper = v.old_wrapper`, args...)
	if err != nil {
		return 0, internal("rewrap data keys", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, internal("rewrap data keys", err)
	}
	return n, nil
}

// lockAccounts locks the rows of the accounts of rewraps, which are sorted
// by account, in that order, until the transaction ends (PostgreSQL; a
// no-op where writers are serialised already).
func lockAccounts(ctx context.Context, r runner, rewraps []store.Rewrap) error {
	if r.d.forUpdate == "" {
		return nil
	}
	args := make([]any, 0, len(rewraps))
	for i, rw := range rewraps {
		if i == 0 || rw.Account != rewraps[i-1].Account {
			args = append(args, string(rw.Account))
		}
	}
	// The rows are locked as they are read.
	return queryEach(ctx, r, "lock accounts", func(scanner) error { return nil },
		`SELECT id FROM accounts WHERE id IN (`+placeholders(len(args), 1)+`) ORDER BY id`+r.d.forUpdate, args...)
}

// holdKEK checks, in a transaction, that KEK version is stored, and keeps
// it from being deleted until the transaction ends (in PostgreSQL by a
// share lock on its row; SQLite's writers are serialised already).
// ErrNoKEK if it is not stored.
func holdKEK(ctx context.Context, r runner, version int64) error {
	var n int
	err := r.row(ctx, `SELECT 1 FROM keks WHERE version = ?`+r.d.forShare, version).Scan(&n)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNoKEK
	case err != nil:
		return internal("check kek", err)
	}
	return nil
}

// DeleteKEK removes a KEK version; absent is not an error. It fails with
// Conflict, deleting nothing, if any data key is still wrapped by the
// version. The check and the deletion are one transaction, which first
// locks the version's row (PostgreSQL): a CreateDataKey under the version
// that holds it commits first and its key is then seen by the check, and
// one that comes after finds the version gone (ErrNoKEK).
func (s *RegionStore) DeleteKEK(ctx context.Context, version int64) error {
	return s.db.inTx(ctx, func(r runner) error {
		var n int
		if r.d.forUpdate != "" {
			err := r.row(ctx, `SELECT 1 FROM keks WHERE version = ?`+r.d.forUpdate, version).Scan(&n)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return internal("delete kek", err)
			}
		}
		err := r.row(ctx, `SELECT 1 FROM data_keys WHERE wrapper = ? LIMIT 1`, version).Scan(&n)
		switch {
		case err == nil:
			return candor.E(candor.Conflict, "data keys are still wrapped by this key version")
		case !errors.Is(err, sql.ErrNoRows):
			return internal("delete kek", err)
		}
		if _, err := r.exec(ctx, `DELETE FROM keks WHERE version = ?`, version); err != nil {
			return internal("delete kek", err)
		}
		return nil
	})
}
