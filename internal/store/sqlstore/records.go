package sqlstore

import (
	"context"
	"database/sql"
	"strings"
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
//
// rec is appended in the same transaction, unless it fails (also with
// ConsentRequired or Conflict): then nothing is.
func (s *RegionStore) ApplyChanges(ctx context.Context, rec store.AuditRecord, account candor.AccountID, c candor.Category, epoch int64, changes []store.Change) ([]store.Result, error) {
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
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		results = make([]store.Result, 0, len(changes))
		cnt, err := s.lockAccount(ctx, r, account)
		if err != nil {
			return err
		}
		if err := checkEpoch(ctx, r, account, c, epoch,
			candor.E(candor.Conflict, "consent changed: read the consent state again")); err != nil {
			return err
		}
		current, err := readCurrent(ctx, r, account, c, changes)
		if err != nil {
			return err
		}
		seq := cnt.feed
		modified := stamp(time.Time{})
		// Later changes of the batch see earlier ones; only each record's
		// final state is written.
		final := make([]string, 0, len(changes))
		written := make(map[string]bool, len(changes))
		for _, ch := range changes {
			cur := current[ch.ID]
			if cur.Version != ch.BaseVersion {
				results = append(results, store.Result{ID: ch.ID, Version: cur.Version, Seq: cur.Seq, Current: cur})
				continue
			}
			seq++
			if !written[ch.ID] {
				final, written[ch.ID] = append(final, ch.ID), true
			}
			next := store.Record{Account: account, Category: c, ID: ch.ID, Version: ch.Version, Seq: seq,
				Deleted: ch.Deleted, Modified: modified}
			if !ch.Deleted {
				next.Ciphertext = ch.Ciphertext
			}
			current[ch.ID] = next
			results = append(results, store.Result{ID: ch.ID, Applied: true, Version: ch.Version, Seq: seq})
		}
		rows := make([]any, 0, 8*len(final))
		for _, id := range final {
			rec := current[id]
			ct := rec.Ciphertext
			if ct == nil && !rec.Deleted {
				ct = []byte{}
			}
			rows = append(rows, string(account), string(c), id, rec.Version, rec.Seq, rec.Deleted, ct, micros(modified))
		}
		if err := writeRecords(ctx, r, rows); err != nil {
			return err
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

func scanRecord(sc scanner, account candor.AccountID, c candor.Category) (store.Record, error) {
	rec := store.Record{Account: account, Category: c}
	var modified int64
	err := sc.Scan(&rec.ID, &rec.Version, &rec.Seq, &rec.Deleted, &rec.Ciphertext, &modified)
	rec.Modified = fromMicros(modified)
	if rec.Deleted {
		rec.Ciphertext = nil
	}
	return rec, err
}

// batchRows bounds the rows of one multi-row statement (8 parameters each),
// well below the parameter limits of SQLite and PostgreSQL.
const batchRows = 500

// readCurrent returns the stored records among the ids of changes, by id;
// ids with no record are absent (their zero Record has Version 0). One
// query per batchRows ids, so a push costs a few round trips, not one per
// record.
func readCurrent(ctx context.Context, r runner, account candor.AccountID, c candor.Category, changes []store.Change) (map[string]store.Record, error) {
	current := make(map[string]store.Record, len(changes))
	for i := 0; i < len(changes); i += batchRows {
		part := changes[i:min(i+batchRows, len(changes))]
		args := make([]any, 0, 2+len(part))
		args = append(args, string(account), string(c))
		for _, ch := range part {
			args = append(args, ch.ID)
		}
		err := queryEach(ctx, r, "read records", func(sc scanner) error {
			rec, err := scanRecord(sc, account, c)
			if err != nil {
				return err
			}
			current[rec.ID] = rec
			return nil
		}, `SELECT `+recordColumns+` FROM records WHERE account = ? AND category = ? AND id IN (`+
			placeholders(len(part), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
	}
	return current, nil
}

// writeRecords upserts rows of 8 values (account, category, id, version,
// seq, deleted, ciphertext, modified) with multi-row statements.
func writeRecords(ctx context.Context, r runner, rows []any) error {
	const width = 8
	for i := 0; i < len(rows); i += batchRows * width {
		part := rows[i:min(i+batchRows*width, len(rows))]
		if _, err := r.exec(ctx, `INSERT INTO records
			(account, category, id, version, seq, deleted, ciphertext, modified_us) VALUES `+placeholders(len(part)/width, width)+`
			ON CONFLICT (account, category, id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
				deleted = excluded.deleted, ciphertext = excluded.ciphertext, modified_us = excluded.modified_us`, part...); err != nil {
			return internal("apply change", err)
		}
	}
	return nil
}

// placeholders returns n groups of width ? placeholders: "?, ?" for (2, 1)
// and "(?, ?), (?, ?)" for (2, 2).
func placeholders(n, width int) string {
	group := strings.TrimSuffix(strings.Repeat("?, ", width), ", ")
	if width > 1 {
		group = "(" + group + ")"
	}
	return strings.TrimSuffix(strings.Repeat(group+", ", n), ", ")
}

// Changes returns up to limit records of (account, category) with
// Seq > since, by Seq ascending, deletions included. Invalid if limit is not
// positive.
//
// It reads in a write transaction that first checks that the category is
// on under epoch (ConsentRequired if it is off, Conflict if on under
// another epoch) and then appends rec.
func (s *RegionStore) Changes(ctx context.Context, rec store.AuditRecord, account candor.AccountID, c candor.Category, epoch, since int64, limit int) ([]store.Record, error) {
	if limit <= 0 {
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	var recs []store.Record
	err := s.auditLog.access(ctx, rec, func(r runner) error {
		if err := checkEpoch(ctx, r, account, c, epoch,
			candor.E(candor.Conflict, "consent changed: read the consent state again")); err != nil {
			return err
		}
		var err error
		recs, err = queryAll(ctx, r, "read changes", func(sc scanner) (store.Record, error) {
			return scanRecord(sc, account, c)
		}, `SELECT `+recordColumns+` FROM records
			WHERE account = ? AND category = ? AND seq > ? ORDER BY seq LIMIT ?`,
			string(account), string(c), since, limit)
		return err
	})
	if err != nil {
		return nil, err
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

// Usage sums up the records of (account, category) in one aggregate query
// over the records' primary key range: live records, their ciphertext
// bytes (length() reads a value's size, not its bytes, in both engines)
// and the last change, deletions included.
func (s *RegionStore) Usage(ctx context.Context, account candor.AccountID, c candor.Category) (store.Usage, error) {
	return usage(ctx, s.db.reader(), "sum up records", usageOfRecords, string(account), string(c))
}

const usageOfRecords = `SELECT
	CAST(COALESCE(SUM(CASE WHEN deleted THEN 0 ELSE 1 END), 0) AS BIGINT),
	CAST(COALESCE(SUM(CASE WHEN deleted THEN 0 ELSE LENGTH(ciphertext) END), 0) AS BIGINT),
	MAX(modified_us)
	FROM records WHERE account = ? AND category = ?`

// usage runs an aggregate query answering (count, bytes, latest time).
func usage(ctx context.Context, r runner, op, query string, args ...any) (store.Usage, error) {
	var u store.Usage
	var last sql.NullInt64
	if err := r.row(ctx, query, args...).Scan(&u.Records, &u.Bytes, &last); err != nil {
		return store.Usage{}, internal(op, err)
	}
	if last.Valid {
		u.LastChange = fromMicros(last.Int64)
	}
	return u, nil
}
