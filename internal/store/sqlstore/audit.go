package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// auditLog is the tamper-evident log of one component's database: its
// entries, the tlog stored hashes of its Merkle tree, its checkpoints and a
// one-row head holding its size.
type auditLog struct {
	db *db
	auditTables
}

var _ store.AuditLog = (*auditLog)(nil)

// auditTables names the tables of one log. The region and the directory
// keep theirs under different names, so that both components may share one
// database and still keep two logs.
type auditTables struct {
	entries, hashes, checkpoints, head string
}

var (
	regionAudit = auditTables{
		entries:     "audit_entries",
		hashes:      "audit_hashes",
		checkpoints: "audit_checkpoints",
		head:        "audit_head",
	}
	directoryAudit = auditTables{
		entries:     "audit_directory_entries",
		hashes:      "audit_directory_hashes",
		checkpoints: "audit_directory_checkpoints",
		head:        "audit_directory_head",
	}
)

// access runs fn in a write transaction of the log's database, as db.inTx
// does, and then appends rec in the same transaction: the access and its
// record commit together, or neither does when fn or the append fails. It
// is the one way a store method that is an access reaches its database; a
// zero rec is refused before fn runs (store.ErrUnaudited).
func (l *auditLog) access(ctx context.Context, rec store.AuditRecord, fn func(r runner) error) error {
	if rec.Zero() {
		return store.ErrUnaudited
	}
	return l.db.inTx(ctx, func(r runner) error {
		if err := fn(r); err != nil {
			return err
		}
		_, err := l.append(ctx, r, []store.AuditRecord{rec})
		return err
	})
}

// append appends recs in the transaction r and returns their indexes.
//
// Its first statement adds len(recs) to the size in the head row and reads
// the result back, which locks the row until the transaction ends (in
// PostgreSQL; SQLite's single writer serialises write transactions
// already): appends to one log run one after the other, indexes are dense,
// and the head always counts the entries committed. The methods that append
// for an access do so after their own work, so the head lock is taken last
// and held only until the commit, and no two transactions can wait on each
// other for it.
//
// For record n it computes the tree's new stored hashes with
// tlog.StoredHashes, which needs about log2(n) earlier hashes at most: those
// of this append from memory, the others read in one query in the same
// transaction. The entries and the hashes (at tlog.StoredHashIndex(0, n)
// onwards) are then inserted with multi-row statements.
func (l *auditLog) append(ctx context.Context, r runner, recs []store.AuditRecord) ([]int64, error) {
	var n int64
	err := r.row(ctx, `UPDATE `+l.head+` SET size = size + ? WHERE id = 1 RETURNING size`, len(recs)).Scan(&n)
	if err != nil {
		return nil, internal("append audit: lock head", err)
	}
	n -= int64(len(recs))
	fresh := make(map[int64]tlog.Hash, 2*len(recs))
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		var missing []int64
		for i, x := range indexes {
			h, ok := fresh[x]
			if !ok {
				missing = append(missing, x)
				continue
			}
			out[i] = h
		}
		if len(missing) == 0 {
			return out, nil
		}
		stored, err := l.readHashes(ctx, r, missing)
		if err != nil {
			return nil, err
		}
		for i, x := range indexes {
			if _, ok := fresh[x]; !ok {
				out[i], stored = stored[0], stored[1:]
			}
		}
		return out, nil
	})
	indexes := make([]int64, len(recs))
	entries := make([]any, 0, 3*len(recs))
	hashes := make([]any, 0, 4*len(recs))
	for i, rec := range recs {
		hs, err := tlog.StoredHashes(n, rec.Data, reader)
		if err != nil {
			if candor.Is(err, candor.NotFound) {
				return nil, internal("append audit", fmt.Errorf("the stored tree is incomplete: %v", err))
			}
			return nil, err
		}
		base := tlog.StoredHashIndex(0, n)
		for j, h := range hs {
			fresh[base+int64(j)] = h
			hashes = append(hashes, base+int64(j), h[:])
		}
		var account []byte
		if len(rec.Account) > 0 {
			account = rec.Account
		}
		data := rec.Data
		if data == nil {
			data = []byte{}
		}
		entries = append(entries, n, account, data)
		indexes[i] = n
		n++
	}
	if err := insertRows(ctx, r, `INSERT INTO `+l.entries+` (idx, account, data) VALUES `, 3, entries); err != nil {
		return nil, internal("append audit entries", err)
	}
	if err := insertRows(ctx, r, `INSERT INTO `+l.hashes+` (idx, hash) VALUES `, 2, hashes); err != nil {
		return nil, internal("append audit hashes", err)
	}
	return indexes, nil
}

// insertRows runs insert (ending in VALUES) over args, width values per row,
// batchRows rows per statement.
func insertRows(ctx context.Context, r runner, insert string, width int, args []any) error {
	for i := 0; i < len(args); i += batchRows * width {
		part := args[i:min(i+batchRows*width, len(args))]
		if _, err := r.exec(ctx, insert+placeholders(len(part)/width, width), part...); err != nil {
			return err
		}
	}
	return nil
}

// readHashes returns the stored hashes at indexes, in their order
// (repetitions allowed), reading batchRows indexes per query. NotFound if
// one is missing.
func (l *auditLog) readHashes(ctx context.Context, r runner, indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	for i := 0; i < len(indexes); i += batchRows {
		part := indexes[i:min(i+batchRows, len(indexes))]
		args := make([]any, len(part))
		for j, x := range part {
			args[j] = x
		}
		err := queryEach(ctx, r, "read audit hashes", func(sc scanner) error {
			var x int64
			var b []byte
			if err := sc.Scan(&x, &b); err != nil {
				return err
			}
			if len(b) != tlog.HashSize {
				return fmt.Errorf("stored hash %d is %d bytes", x, len(b))
			}
			found[x] = tlog.Hash(b)
			return nil
		}, `SELECT idx, hash FROM `+l.hashes+` WHERE idx IN (`+placeholders(len(part), 1)+`)`, args...)
		if err != nil {
			return nil, err
		}
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, candor.Errorf(candor.NotFound, "no stored audit hash at index %d", x)
		}
		out[i] = h
	}
	return out, nil
}

// The methods of store.AuditLog. RegionStore and DirectoryStore embed their
// log, so these are theirs.

// AppendAudit appends records in a transaction of its own and returns their
// indexes, consecutive from the log's size. Concurrent appends are
// serialised, so indexes are dense. Appending no records writes nothing.
func (l *auditLog) AppendAudit(ctx context.Context, recs ...store.AuditRecord) ([]int64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	var indexes []int64
	err := l.db.inTx(ctx, func(r runner) error {
		var err error
		indexes, err = l.append(ctx, r, recs)
		return err
	})
	if err != nil {
		return nil, err
	}
	return indexes, nil
}

// AuditSize is the number of records in the log, as its head row says.
func (l *auditLog) AuditSize(ctx context.Context) (int64, error) {
	var n int64
	if err := l.db.reader().row(ctx, `SELECT size FROM `+l.head+` WHERE id = 1`).Scan(&n); err != nil {
		return 0, internal("read audit size", err)
	}
	return n, nil
}

// AuditEntries returns the records with from <= Index < to, in order; a
// record missing from the database is missing from the result. Invalid
// unless 0 <= from <= to.
func (l *auditLog) AuditEntries(ctx context.Context, from, to int64) ([]store.AuditEntry, error) {
	if from < 0 || to < from {
		return nil, candor.E(candor.Invalid, "audit entries need 0 <= from <= to")
	}
	if from == to {
		return nil, nil
	}
	return l.entriesQuery(ctx, `SELECT idx, account, data FROM `+l.entries+`
		WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
}

// AuditEntriesFor returns up to limit records of one account pseudonym with
// Index > after, in order. Invalid if account is empty or limit not
// positive.
func (l *auditLog) AuditEntriesFor(ctx context.Context, account []byte, after int64, limit int) ([]store.AuditEntry, error) {
	switch {
	case len(account) == 0:
		return nil, candor.E(candor.Invalid, "audit entries need an account pseudonym")
	case limit <= 0:
		return nil, candor.E(candor.Invalid, "limit must be positive")
	}
	return l.entriesQuery(ctx, `SELECT idx, account, data FROM `+l.entries+`
		WHERE account = ? AND idx > ? ORDER BY idx LIMIT ?`, account, after, limit)
}

func (l *auditLog) entriesQuery(ctx context.Context, query string, args ...any) ([]store.AuditEntry, error) {
	return queryAll(ctx, l.db.reader(), "read audit entries", func(sc scanner) (store.AuditEntry, error) {
		var e store.AuditEntry
		err := sc.Scan(&e.Index, &e.Account, &e.Data)
		if len(e.Account) == 0 {
			e.Account = nil
		}
		return e, err
	}, query, args...)
}

// ReadAuditHashes returns the stored tree hashes at the given storage
// indexes, in their order; NotFound if one is missing.
func (l *auditLog) ReadAuditHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return l.readHashes(ctx, l.db.reader(), indexes)
}

// PutCheckpoint stores a checkpoint unless one of the same Size exists (then
// the stored one stays). A zero Created is stored as the time of the call.
func (l *auditLog) PutCheckpoint(ctx context.Context, c store.Checkpoint) error {
	if c.Size < 0 {
		return candor.E(candor.Invalid, "a checkpoint's size cannot be negative")
	}
	note := c.Note
	if note == nil {
		note = []byte{}
	}
	if _, err := l.db.writer().exec(ctx, `INSERT INTO `+l.checkpoints+` (size, hash, note, created_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (size) DO NOTHING`, c.Size, c.Hash[:], note, micros(stamp(c.Created))); err != nil {
		return internal("put audit checkpoint", err)
	}
	return nil
}

// Checkpoints lists the stored checkpoints by Size ascending.
func (l *auditLog) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	return queryAll(ctx, l.db.reader(), "list audit checkpoints", func(sc scanner) (store.Checkpoint, error) {
		var c store.Checkpoint
		var hash []byte
		var created int64
		if err := sc.Scan(&c.Size, &hash, &c.Note, &created); err != nil {
			return c, err
		}
		if len(hash) != tlog.HashSize {
			return c, errors.New("a stored checkpoint hash has the wrong size")
		}
		c.Hash = tlog.Hash(hash)
		c.Created = fromMicros(created)
		return c, nil
	}, `SELECT size, hash, note, created_us FROM `+l.checkpoints+` ORDER BY size`)
}
