package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// ApplyChanges applies sealed changes to (account, category) in one
// transaction, under the account's lock. It first checks that the latest
// consent event of the category is "on" with Seq == epoch: ConsentRequired
// if the category is off, Conflict if it is on under another epoch, and
// nothing is written. Each change is then applied only if the stored version
// (0 for an absent record) equals its BaseVersion; applied changes take the
// account's next feed Seqs, consecutively and in order. A change that is not
// applied has a Result with Applied false and Current, Version and Seq set
// from the stored record (a zero Record when absent).
//
// Invalid, before anything is read, if a change has an empty ID, a Version
// other than BaseVersion+1, or is a deletion with ciphertext. NotFound if
// the account does not exist.
func (s *RegionStore) ApplyChanges(ctx context.Context, account candor.AccountID, c candor.Category, epoch int64, changes []store.Change) ([]store.Result, error) {
	for _, ch := range changes {
		switch {
		case ch.ID == "":
			return nil, candor.E(candor.Invalid, "change has no record id")
		case ch.BaseVersion < 0 || ch.Version != ch.BaseVersion+1:
			return nil, candor.E(candor.Invalid, "change version must be its base version plus one")
		case ch.Deleted && len(ch.Ciphertext) > 0:
			return nil, candor.E(candor.Invalid, "a deletion carries no ciphertext")
		}
	}
	var results []store.Result
	err := s.db.inTx(ctx, func(r runner) error {
		results = make([]store.Result, 0, len(changes))
		cnt, err := s.lockAccount(ctx, r, account)
		if err != nil {
			return err
		}
		if err := checkEpoch(ctx, r, account, c, epoch,
			candor.E(candor.Conflict, "consent changed: read the consent state again")); err != nil {
			return err
		}
		// A push holds up to a thousand changes: parse each statement once.
		read, err := r.prepare(ctx, selectRecord)
		if err != nil {
			return internal("apply change", err)
		}
		defer read.Close()
		write, err := r.prepare(ctx, upsertRecord)
		if err != nil {
			return internal("apply change", err)
		}
		defer write.Close()
		seq := cnt.feed
		modified := stamp(time.Time{})
		for _, ch := range changes {
			cur, err := scanCurrent(read.QueryRowContext(ctx, string(account), string(c), ch.ID), account, c)
			if err != nil {
				return err
			}
			if cur.Version != ch.BaseVersion {
				results = append(results, store.Result{ID: ch.ID, Version: cur.Version, Seq: cur.Seq, Current: cur})
				continue
			}
			seq++
			var ct []byte
			if !ch.Deleted {
				ct = ch.Ciphertext
				if ct == nil {
					ct = []byte{}
				}
			}
			if _, err := write.ExecContext(ctx,
				string(account), string(c), ch.ID, ch.Version, seq, ch.Deleted, ct, micros(modified)); err != nil {
				return internal("apply change", err)
			}
			results = append(results, store.Result{ID: ch.ID, Applied: true, Version: ch.Version, Seq: seq})
		}
		if seq != cnt.feed {
			if _, err := r.exec(ctx, `UPDATE accounts SET feed_seq = ? WHERE id = ?`, seq, string(account)); err != nil {
				return internal("apply change", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

const recordColumns = `id, version, seq, deleted, ciphertext, modified_us`

func scanRecord(sc interface{ Scan(...any) error }, account candor.AccountID, c candor.Category) (store.Record, error) {
	rec := store.Record{Account: account, Category: c}
	var modified int64
	err := sc.Scan(&rec.ID, &rec.Version, &rec.Seq, &rec.Deleted, &rec.Ciphertext, &modified)
	rec.Modified = fromMicros(modified)
	if rec.Deleted {
		rec.Ciphertext = nil
	}
	return rec, err
}

const (
	selectRecord = `SELECT ` + recordColumns + ` FROM records WHERE account = ? AND category = ? AND id = ?`
	upsertRecord = `INSERT INTO records
		(account, category, id, version, seq, deleted, ciphertext, modified_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, category, id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
			deleted = excluded.deleted, ciphertext = excluded.ciphertext, modified_us = excluded.modified_us`
)

// scanCurrent scans the stored record from a selectRecord row, or returns a
// zero Record if there is none.
func scanCurrent(row *sql.Row, account candor.AccountID, c candor.Category) (store.Record, error) {
	rec, err := scanRecord(row, account, c)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Record{}, nil
	case err != nil:
		return store.Record{}, internal("read record", err)
	}
	return rec, nil
}

// Changes returns up to limit records of (account, category) with
// Seq > since, by Seq ascending, deletions included. Invalid if limit is not
// positive.
func (s *RegionStore) Changes(ctx context.Context, account candor.AccountID, c candor.Category, since int64, limit int) ([]store.Record, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	rows, err := s.db.reader().query(ctx, `SELECT `+recordColumns+` FROM records
		WHERE account = ? AND category = ? AND seq > ? ORDER BY seq LIMIT ?`,
		string(account), string(c), since, limit)
	if err != nil {
		return nil, internal("read changes", err)
	}
	defer rows.Close()
	var recs []store.Record
	for rows.Next() {
		rec, err := scanRecord(rows, account, c)
		if err != nil {
			return nil, internal("read changes", err)
		}
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("read changes", err)
	}
	return recs, nil
}

// CountRecords counts the live (not deleted) records of (account, category).
func (s *RegionStore) CountRecords(ctx context.Context, account candor.AccountID, c candor.Category) (int, error) {
	var n int
	if err := s.db.reader().row(ctx, `SELECT COUNT(*) FROM records WHERE account = ? AND category = ? AND NOT deleted`,
		string(account), string(c)).Scan(&n); err != nil {
		return 0, internal("count records", err)
	}
	return n, nil
}
