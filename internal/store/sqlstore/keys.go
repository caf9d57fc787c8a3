package sqlstore

import (
	"context"
	"database/sql"
	"errors"

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
	rows, err := s.db.reader().query(ctx, `SELECT version, wrapper, wrapped, created_us FROM keks ORDER BY version`)
	if err != nil {
		return nil, internal("list keks", err)
	}
	defer rows.Close()
	var ks []store.WrappedKey
	for rows.Next() {
		var k store.WrappedKey
		var created int64
		if err := rows.Scan(&k.Version, &k.Wrapper, &k.Wrapped, &created); err != nil {
			return nil, internal("list keks", err)
		}
		k.Created = fromMicros(created)
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("list keks", err)
	}
	return ks, nil
}

const dataKeyQuery = `SELECT epoch, version, wrapper, wrapped, created_us FROM data_keys WHERE account = ? AND category = ?`

func scanDataKey(row *sql.Row, account candor.AccountID, c candor.Category) (store.DataKey, error) {
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
func (s *RegionStore) CreateDataKey(ctx context.Context, k store.DataKey) (store.DataKey, error) {
	var out store.DataKey
	err := s.db.inTx(ctx, func(r runner) error {
		if _, err := s.lockAccount(ctx, r, k.Account); err != nil {
			return err
		}
		if err := checkEpoch(ctx, r, k.Account, k.Category, k.Epoch, candor.ErrConsent(k.Category)); err != nil {
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
