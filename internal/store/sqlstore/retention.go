package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.Retention = (*RegionStore)(nil)

// PurgeTombstones deletes tombstones last changed before before, in one
// transaction: it picks up to limit of them, and for each account among
// them raises purged_seq to the highest Seq picked and deletes that
// account's old tombstones up to it (a few more than limit, at most, if the
// account's tombstones changed meanwhile). It reports how many it deleted.
// Invalid if limit is not positive.
func (s *RegionStore) PurgeTombstones(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "purge tombstones"
	if limit <= 0 {
		return 0, candor.E(candor.Invalid, "limit must be positive")
	}
	type upTo struct {
		account string
		seq     int64
	}
	total := 0
	err := s.db.inTx(ctx, func(r runner) error {
		total = 0
		picked, err := queryAll(ctx, r, op, func(sc scanner) (upTo, error) {
			var u upTo
			return u, sc.Scan(&u.account, &u.seq)
		}, `SELECT account, max(seq) FROM
			(SELECT account, seq FROM records WHERE deleted = ? AND modified_us < ? LIMIT ?) picked
			GROUP BY account ORDER BY account`, true, micros(before), limit)
		if err != nil {
			return err
		}
		for _, u := range picked {
			if _, err := r.exec(ctx, `UPDATE accounts SET purged_seq = ? WHERE id = ? AND purged_seq < ?`,
				u.seq, u.account, u.seq); err != nil {
				return internal(op, err)
			}
			res, err := r.exec(ctx, `DELETE FROM records WHERE account = ? AND deleted = ? AND modified_us < ? AND seq <= ?`,
				u.account, true, micros(before), u.seq)
			if err != nil {
				return internal(op, err)
			}
			n, _ := res.RowsAffected()
			total += int(n)
		}
		return nil
	})
	return total, err
}

// PurgedSeq is the highest Seq of a tombstone purged from the account's
// feed; 0 if none, or no such account.
func (s *RegionStore) PurgedSeq(ctx context.Context, account candor.AccountID) (int64, error) {
	var seq int64
	err := s.db.reader().row(ctx, `SELECT purged_seq FROM accounts WHERE id = ?`, string(account)).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, internal("purged seq", err)
	}
	return seq, nil
}
