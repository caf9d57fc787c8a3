package sqlstore

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

var _ store.Retention = (*RegionStore)(nil)

// PurgeTombstones deletes up to limit tombstones last changed before
// before, in one statement, and reports how many. Invalid if limit is not
// positive.
func (s *RegionStore) PurgeTombstones(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, candor.E(candor.Invalid, "limit must be positive")
	}
	res, err := s.db.writer().exec(ctx, `DELETE FROM records WHERE (account, category, id) IN
		(SELECT account, category, id FROM records WHERE deleted = ? AND modified_us < ? LIMIT ?)`,
		true, micros(before), limit)
	if err != nil {
		return 0, internal("purge tombstones", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
