package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dialect is what the shared code needs to know about one SQL dialect.
type dialect struct {
	name string // "sqlite" or "postgres": the migrations directory
	// numbered is true when placeholders are $1, $2, … rather than ?.
	numbered bool
	// forUpdate is appended to a SELECT that locks the rows it reads until
	// the transaction ends; empty where transactions already exclude each
	// other (SQLite, whose write transactions begin IMMEDIATE).
	forUpdate string
	// forShare is appended to a SELECT that keeps the rows it reads from
	// being changed or deleted by others until the transaction ends, while
	// letting others read and share-lock them; empty where transactions
	// already exclude each other (SQLite).
	forShare string
	// migrationLock, when set, is run first in the migration transaction to
	// keep two processes from migrating the same schema at once.
	migrationLock string
	// rootLock, when set, is run first in InitRoot's and Rekey's
	// transactions so that they run one after the other; empty where write
	// transactions already exclude each other (SQLite).
	rootLock string
	// batchWrites is true where each statement costs a round trip to a
	// server (PostgreSQL): an update of many rows is then sent batchRows
	// rows per statement, joined against a VALUES list. Where it is false
	// (SQLite, in process) one prepared statement runs per row, which is
	// faster there and leaves the planner no join order to get wrong.
	batchWrites bool
	// bulkInsert, when set, is run first in a transaction that inserts many
	// rows with multi-row statements of one shape (ImportAccount). The
	// PostgreSQL connections force a custom plan for every statement (see
	// openPostgres), which would plan each statement of thousands of
	// parameters again; in that transaction the generic plan is allowed.
	bulkInsert string
	// blobType is the SQL type of byte strings, for CAST: parameters in a
	// VALUES list have no column to take their type from.
	blobType string
	// cacheStatements is true where parsing a statement costs about as much
	// as running it (SQLite, in process): inStatement then keeps its small
	// statements prepared. PostgreSQL's driver caches prepared statements
	// per connection itself.
	cacheStatements bool
	// unique and foreignKey classify constraint violations.
	unique     func(error) bool
	foreignKey func(error) bool
	// scrub, when set, wipes what deleted rows left outside the database's
	// live pages (see db.scrub).
	scrub func(ctx context.Context, d *db) error
}

// scrub makes a deletion that committed reach every byte of the database's
// files, where the dialect can (SQLite: see sqliteScrub). The shredding
// methods — a category turned off, an account or its directory entry
// deleted, shred secrets deleted — call it after their transaction
// commits, and fail (retryably: asking again scrubs again) if it cannot
// finish, so that a deletion is acknowledged only once it is wiped.
func (d *db) scrub(ctx context.Context) error {
	if d.dialect.scrub == nil {
		return nil
	}
	return d.dialect.scrub(ctx, d)
}

// rebind rewrites the ? placeholders of query for the dialect. A ? inside a
// quoted string or identifier is left alone.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// db is an open database: a pool for writes and transactions, and one for
// reads outside transactions. For PostgreSQL both are the same pool; for
// SQLite the write pool has a single connection so that writers queue in Go
// instead of failing with SQLITE_BUSY, while readers proceed in parallel
// under WAL.
type db struct {
	dialect *dialect
	write   *sql.DB
	read    *sql.DB
	// stmts holds the write pool's statements kept prepared by
	// inStatement, by query text (as rebound): *sql.Stmt values; readStmts
	// the read pool's, kept by reader (at most maxCachedReads of them).
	stmts     sync.Map
	readStmts sync.Map
	reads     atomic.Int32
}

// maxCachedReads bounds the read statements kept prepared: queries whose
// text varies with their arguments' count stop being cached past it.
const maxCachedReads = 256

func (d *db) close() error {
	var errs []error
	for _, m := range []*sync.Map{&d.stmts, &d.readStmts} {
		m.Range(func(_, s any) bool {
			errs = append(errs, s.(*sql.Stmt).Close())
			return true
		})
	}
	if d.read != d.write {
		errs = append(errs, d.read.Close())
	}
	return errors.Join(append(errs, d.write.Close())...)
}

// conn is what *sql.DB and *sql.Tx have in common.
type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// runner runs queries written with ? placeholders on a pool or a
// transaction, rebinding them for the dialect. Every statement has a
// deadline: until, when set (the deadline of the transaction r runs in),
// else CallDeadline from when it starts.
type runner struct {
	c     conn
	d     *dialect
	until time.Time
}

func (r runner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := bound(ctx, r.until)
	defer cancel()
	return r.c.ExecContext(ctx, r.d.rebind(query), args...)
}

// query runs query; the deadline ends when the rows are closed.
func (r runner) query(ctx context.Context, query string, args ...any) (*rows, error) {
	ctx, cancel := bound(ctx, r.until)
	rs, err := r.c.QueryContext(ctx, r.d.rebind(query), args...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &rows{Rows: rs, cancel: cancel}, nil
}

// row runs query; the deadline ends when the row is scanned.
func (r runner) row(ctx context.Context, query string, args ...any) row {
	ctx, cancel := bound(ctx, r.until)
	return row{r.c.QueryRowContext(ctx, r.d.rebind(query), args...), cancel}
}

// rows are the rows of a query with a deadline, released by Close.
type rows struct {
	*sql.Rows
	cancel context.CancelFunc
}

func (r *rows) Close() error {
	defer r.cancel()
	return r.Rows.Close()
}

// row is the row of a query with a deadline, released by Scan.
type row struct {
	r      *sql.Row
	cancel context.CancelFunc
}

func (r row) Scan(dest ...any) error {
	defer r.cancel()
	return r.r.Scan(dest...)
}

// prepare prepares a statement; on a transaction it is closed when the
// transaction ends.
func (r runner) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	return r.c.PrepareContext(ctx, r.d.rebind(query))
}

// execAll runs queries in r one after the other, each with args, and
// stops at the first that fails; op names the operation in errors.
func execAll(ctx context.Context, r runner, op string, queries []string, args ...any) error {
	for _, q := range queries {
		if _, err := r.exec(ctx, q, args...); err != nil {
			return internal(op, err)
		}
	}
	return nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(...any) error }

// queryEach runs query in r and calls each on its rows in order, stopping
// at the first error. Every failure, each's too, is wrapped by internal with
// op, the operation's name.
func queryEach(ctx context.Context, r runner, op string, each func(scanner) error, query string, args ...any) error {
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return internal(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return internal(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return internal(op, err)
	}
	return nil
}

// queryAll runs query in r and returns what scan makes of each row, in
// order (nil for no rows). Failures are wrapped as by queryEach.
func queryAll[T any](ctx context.Context, r runner, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := queryEach(ctx, r, op, func(sc scanner) error {
		v, err := scan(sc)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// reader runs single statements on the read pool.
// Where the dialect caches statements (SQLite, in process), each read's
// statement is prepared once: parsing SQL is a large part of a small read.
func (d *db) reader() runner {
	if d.dialect.cacheStatements {
		return runner{c: cachedConn{d: d, pool: d.read, stmts: &d.readStmts, count: &d.reads}, d: d.dialect}
	}
	return runner{c: d.read, d: d.dialect}
}

// writer runs single statements on the write pool.
func (d *db) writer() runner { return runner{c: d.write, d: d.dialect} }

// inTx runs fn in a write transaction, committing if fn returns nil and
// rolling back otherwise. The transaction, from waiting for a connection
// to its COMMIT, has CallDeadline. fn's error is returned as is, unless it
// is a fault of the database (see fault).
func (d *db) inTx(ctx context.Context, fn func(r runner) error) error {
	return d.inTxFor(ctx, CallDeadline, fn)
}

// inTxFor is inTx with the deadline limit.
func (d *db) inTxFor(ctx context.Context, limit time.Duration, fn func(r runner) error) error {
	until := time.Now().Add(limit)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return internal("begin", err)
	}
	if err := fn(runner{tx, d.dialect, until}); err != nil {
		_ = tx.Rollback()
		return classified(err)
	}
	if err := tx.Commit(); err != nil {
		return internal("commit", err)
	}
	return nil
}

// inSnapshot runs fn in a read-only transaction on the read pool, in which
// every statement sees the database as of one instant: REPEATABLE READ in
// PostgreSQL; in SQLite a deferred transaction, whose WAL snapshot is taken
// at its first read and kept to its end. Writers are not held up by it.
// It has limit as its deadline. fn's error is returned as is, unless it
// is a fault of the database (see fault).
func (d *db) inSnapshot(ctx context.Context, limit time.Duration, fn func(r runner) error) error {
	until := time.Now().Add(limit)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	tx, err := d.read.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return internal("begin", err)
	}
	defer tx.Rollback()
	if err := fn(runner{tx, d.dialect, until}); err != nil {
		return classified(err)
	}
	if err := tx.Commit(); err != nil {
		return internal("commit", err)
	}
	return nil
}

// cachedRows bounds the rows (or ids) of the statements inStatement keeps
// prepared. Their shape depends only on that count, so each call site adds
// at most cachedRows statements to the cache.
const cachedRows = 16

// inStatement runs fn, which writes n rows (or ids) batchRows per
// statement. When that is one statement, it runs on the write pool without
// a transaction: a statement is atomic on its own, and sparing the BEGIN
// and COMMIT shortens the time it holds SQLite's single writer; for up to
// cachedRows rows, where the dialect caches statements, the statement is
// prepared once and kept until the store closes. Otherwise fn runs in a
// write transaction, as by inTx.
//
// fn must issue statements whose text depends only on n.
func (d *db) inStatement(ctx context.Context, n int, fn func(r runner) error) error {
	switch {
	case n > batchRows:
		return d.inTx(ctx, fn)
	case n <= cachedRows && d.dialect.cacheStatements:
		return fn(runner{c: cachedConn{d: d, pool: d.write, stmts: &d.stmts}, d: d.dialect})
	default:
		return fn(d.writer())
	}
}

// cachedConn runs statements on a pool, each prepared once and kept in
// stmts; with count set, at most maxCachedReads are kept, and others run
// unprepared.
type cachedConn struct {
	d     *db
	pool  *sql.DB
	stmts *sync.Map
	count *atomic.Int32
}

var errUncached = errors.New("sqlstore: statement cache full")

func (c cachedConn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts.Load(query); ok {
		return s.(*sql.Stmt), nil
	}
	if c.count != nil && c.count.Load() >= maxCachedReads {
		return nil, errUncached
	}
	s, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	if c.count != nil {
		c.count.Add(1)
	}
	return s, nil
}

func (c cachedConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if errors.Is(err, errUncached) {
		return c.pool.ExecContext(ctx, query, args...)
	} else if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

func (c cachedConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if errors.Is(err, errUncached) {
		return c.pool.QueryContext(ctx, query, args...)
	} else if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

func (c cachedConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		// Unprepared, the query runs (or fails again, and the Row carries
		// the error).
		return c.pool.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

func (c cachedConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.pool.PrepareContext(ctx, query)
}

// internal wraps a failure of op. A fault of the database or its disk
// (see fault) is candor.Unavailable, with a sentence naming what is
// missing; any other unexpected failure is candor.Internal.
func internal(op string, err error) error {
	err = fmt.Errorf("sqlstore: %s: %w", op, err)
	if f := fault(err); f != nil {
		return f
	}
	return err
}

// classified is err, or, for a fault of the database or its disk that
// reached a transaction's end unclassified, its Unavailable error.
func classified(err error) error {
	if f := fault(err); f != nil {
		return f
	}
	return err
}

// stamp returns t in UTC at the precision it is stored with, or the current
// time when t is zero.
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// micros is t as stored: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// zeroMicros is the stored form of the zero time.
var zeroMicros = time.Time{}.UnixMicro()

// fromMicros is the inverse of micros, in UTC.
func fromMicros(us int64) time.Time {
	if us == zeroMicros {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
