package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Region migration jobs in the directory (store.MigrationJobs): one row per
// job, with its lease, and its first moves in migration_job_moves. At most
// one job is unfinished: a unique partial index over the unfinished rows
// holds that, whatever the isolation level.

var _ store.MigrationJobs = (*DirectoryStore)(nil)

const jobColumns = `id, started_by, target, country, account, resume, total, done, error, started_us, finished_us, holder, lease_us`

var errJobUnfinished = candor.E(candor.Conflict, "a migration is running already: wait for it to finish")

// CreateMigrationJob stores j, unfinished, with no moves. Conflict if a
// job is unfinished or j.ID exists; Invalid without an id or a holder.
func (s *DirectoryStore) CreateMigrationJob(ctx context.Context, j store.MigrationJob) error {
	if j.ID == "" || j.Holder == "" {
		return candor.E(candor.Invalid, "a migration job needs an id and a holder")
	}
	_, err := s.db.writer().exec(ctx, `INSERT INTO migration_jobs (`+jobColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
		j.ID, j.By, string(j.To), j.Country, string(j.Account), j.Resume, int64(j.Total), int64(j.Done), j.Error,
		micros(stamp(j.Started)), j.Holder, micros(j.Lease))
	switch {
	case s.db.dialect.unique(err):
		return candor.Wrap(candor.Conflict, errJobUnfinished.Error(), err)
	case err != nil:
		return internal("create migration job", err)
	}
	return nil
}

// MigrationJob returns a job with its moves; NotFound if none.
func (s *DirectoryStore) MigrationJob(ctx context.Context, id string) (store.MigrationJob, error) {
	return s.readJob(ctx, `SELECT `+jobColumns+` FROM migration_jobs WHERE id = ?`, id)
}

// UnfinishedMigrationJob returns the unfinished job; NotFound if none.
func (s *DirectoryStore) UnfinishedMigrationJob(ctx context.Context) (store.MigrationJob, error) {
	return s.readJob(ctx, `SELECT `+jobColumns+` FROM migration_jobs WHERE finished_us IS NULL`)
}

// readJob reads one job and its moves in one snapshot.
func (s *DirectoryStore) readJob(ctx context.Context, query string, args ...any) (store.MigrationJob, error) {
	var j store.MigrationJob
	err := s.db.inSnapshot(ctx, CallDeadline, func(r runner) error {
		var err error
		if j, err = scanJob(r.row(ctx, query, args...)); err != nil {
			return err
		}
		j.Moved, err = queryAll(ctx, r, "read migration job", func(sc scanner) (store.JobMove, error) {
			var m store.JobMove
			var records, keys, blobs int64
			err := sc.Scan(&m.Account, &m.From, &m.To, &records, &keys, &blobs, &m.Bytes, &m.Already)
			m.Records, m.Keys, m.Blobs = int(records), int(keys), int(blobs)
			return m, err
		}, `SELECT account, from_region, to_region, records, keys, blobs, bytes, already
			FROM migration_job_moves WHERE job = ? ORDER BY seq`, j.ID)
		return err
	})
	return j, err
}

func scanJob(row scanner) (store.MigrationJob, error) {
	var j store.MigrationJob
	var total, done, started, lease int64
	var finished sql.NullInt64
	err := row.Scan(&j.ID, &j.By, &j.To, &j.Country, &j.Account, &j.Resume, &total, &done, &j.Error,
		&started, &finished, &j.Holder, &lease)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return j, candor.E(candor.NotFound, "no such migration")
	case err != nil:
		return j, internal("read migration job", err)
	}
	j.Total, j.Done, j.Started, j.Lease = int(total), int(done), fromMicros(started), fromMicros(lease)
	if finished.Valid {
		j.Finished = fromMicros(finished.Int64)
	}
	return j, nil
}

// errLeaseLost is the refusal of a write by an instance that no longer
// holds a job's lease.
var errLeaseLost = candor.E(candor.Conflict, "this instance no longer holds the migration's lease")

// holding checks, in a transaction, that holder holds job id, unfinished,
// with a lease that has not expired at now, and locks its row until the
// transaction ends (PostgreSQL). Conflict if not, NotFound if no such job.
func holding(ctx context.Context, r runner, id, holder string, now time.Time) error {
	var h string
	var lease int64
	var finished sql.NullInt64
	err := r.row(ctx, `SELECT holder, lease_us, finished_us FROM migration_jobs WHERE id = ?`+r.d.forUpdate, id).
		Scan(&h, &lease, &finished)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return candor.E(candor.NotFound, "no such migration")
	case err != nil:
		return internal("check migration lease", err)
	case h != holder || finished.Valid || lease <= micros(now):
		return errLeaseLost
	}
	return nil
}

// RenewMigrationLease extends holder's lease of job id to until, if it
// still holds it at now; Conflict otherwise.
func (s *DirectoryStore) RenewMigrationLease(ctx context.Context, id, holder string, now, until time.Time) error {
	return s.db.inTx(ctx, func(r runner) error {
		if err := holding(ctx, r, id, holder, now); err != nil {
			return err
		}
		if _, err := r.exec(ctx, `UPDATE migration_jobs SET lease_us = ? WHERE id = ?`, micros(until), id); err != nil {
			return internal("renew migration lease", err)
		}
		return nil
	})
}

// TakeOverMigrationJob makes holder the holder of the unfinished job whose
// lease expired at now. The update is conditional on the holder and lease
// it read (compare-and-set), after locking the row in PostgreSQL, so of
// concurrent takeovers exactly one changes the row.
func (s *DirectoryStore) TakeOverMigrationJob(ctx context.Context, holder string, now, until time.Time) (store.MigrationJob, error) {
	if holder == "" {
		return store.MigrationJob{}, candor.E(candor.Invalid, "a migration job needs a holder")
	}
	var id string
	err := s.db.inTx(ctx, func(r runner) error {
		j, err := scanJob(r.row(ctx, `SELECT `+jobColumns+` FROM migration_jobs WHERE finished_us IS NULL`+r.d.forUpdate))
		if err != nil {
			return err
		}
		if j.Lease.After(now) {
			return candor.E(candor.Conflict, "the migration's lease has not expired: its instance is running it")
		}
		res, err := r.exec(ctx, `UPDATE migration_jobs SET holder = ?, lease_us = ?
			WHERE id = ? AND holder = ? AND lease_us = ? AND finished_us IS NULL`,
			holder, micros(until), j.ID, j.Holder, micros(j.Lease))
		if err != nil {
			return internal("take over migration job", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal("take over migration job", err)
		} else if n != 1 {
			return candor.E(candor.Conflict, "another instance took the migration over")
		}
		id = j.ID
		return nil
	})
	if err != nil {
		return store.MigrationJob{}, err
	}
	return s.MigrationJob(ctx, id)
}

// RecordMigrationProgress sets job id's counts and appends moved (up to
// store.MaxJobMoves in all), if holder still holds it at now.
func (s *DirectoryStore) RecordMigrationProgress(ctx context.Context, id, holder string, now time.Time, total, done int, moved []store.JobMove) error {
	return s.db.inTx(ctx, func(r runner) error {
		if err := holding(ctx, r, id, holder, now); err != nil {
			return err
		}
		if _, err := r.exec(ctx, `UPDATE migration_jobs SET total = ?, done = ? WHERE id = ?`, int64(total), int64(done), id); err != nil {
			return internal("record migration progress", err)
		}
		if len(moved) == 0 {
			return nil
		}
		var n int64
		if err := r.row(ctx, `SELECT COUNT(*) FROM migration_job_moves WHERE job = ?`, id).Scan(&n); err != nil {
			return internal("record migration progress", err)
		}
		for _, m := range moved {
			if n >= store.MaxJobMoves {
				break
			}
			if _, err := r.exec(ctx, `INSERT INTO migration_job_moves (job, seq, account, from_region, to_region, records, keys, blobs, bytes, already)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, n, string(m.Account), string(m.From), string(m.To),
				int64(m.Records), int64(m.Keys), int64(m.Blobs), m.Bytes, m.Already); err != nil {
				return internal("record migration progress", err)
			}
			n++
		}
		return nil
	})
}

// FinishMigrationJob marks job id finished at now with errMsg, if holder
// still holds it.
func (s *DirectoryStore) FinishMigrationJob(ctx context.Context, id, holder string, now time.Time, errMsg string) error {
	return s.db.inTx(ctx, func(r runner) error {
		if err := holding(ctx, r, id, holder, now); err != nil {
			return err
		}
		if _, err := r.exec(ctx, `UPDATE migration_jobs SET finished_us = ?, error = ? WHERE id = ?`,
			micros(stamp(now)), errMsg, id); err != nil {
			return internal("finish migration job", err)
		}
		return nil
	})
}
