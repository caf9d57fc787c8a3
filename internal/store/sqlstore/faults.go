package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/candorcloud/candor"
)

// The deadlines of store calls. A call that passes its deadline fails
// with candor.Unavailable ("the database did not answer in time"), so a
// database that hangs holds no request, and no connection of the pool,
// for longer than this.
const (
	// CallDeadline bounds one store call: a single statement outside a
	// transaction, or a whole transaction from its BEGIN to its COMMIT
	// (every statement in it shares the transaction's deadline).
	CallDeadline = 10 * time.Second
	// BulkDeadline bounds the calls that move a whole account or the
	// whole schema at once: a region migration's export and import, and
	// the schema migrations run when a store opens.
	BulkDeadline = 10 * time.Minute
)

// How long a client is asked to wait before trying again, by fault.
const (
	retryUnreachable = 5 * time.Second
	retryBusy        = time.Second
	retryDiskFull    = 30 * time.Second
)

// The sentences a person reads for each fault. They name what is missing
// and never how: no address, no driver text.
const (
	msgUnreachable = "the database cannot be reached: try again in a moment"
	msgTimeout     = "the database did not answer in time: try again in a moment"
	msgBusy        = "the database is busy: try again in a moment"
	msgDiskFull    = "the server's disk is full: try again later"
	msgDisk        = "the server's disk cannot be written: try again later"
)

// fault classifies err, a failure of the database or of the disk under it,
// as a retryable candor.Unavailable error carrying err as its hidden cause,
// or returns nil when err is not such a failure (a constraint, a bug, a
// request's own cancellation). Errors that already have a kind are left
// alone.
func fault(err error) error {
	if err == nil {
		return nil
	}
	var ce *candor.Error
	if errors.As(err, &ce) {
		return nil
	}
	wrap := func(msg string, wait time.Duration) error {
		return &candor.Error{Kind: candor.Unavailable, Message: msg, RetryAfter: wait, Err: err}
	}
	switch code := sqliteCode(err) & 0xff; code {
	case sqlite3.SQLITE_FULL:
		return wrap(msgDiskFull, retryDiskFull)
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		if errors.Is(err, syscall.ENOSPC) {
			return wrap(msgDiskFull, retryDiskFull)
		}
		return wrap(msgDisk, retryDiskFull)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return wrap(msgBusy, retryBusy)
	}
	switch code := pgCode(err); {
	case code == "53100": // disk_full
		return wrap(msgDiskFull, retryDiskFull)
	case len(code) == 5 && (code[:2] == "08" || code[:2] == "53" || code[:3] == "57P"):
		// connection exception, insufficient resources, operator
		// intervention (a shutdown or restart)
		return wrap(msgUnreachable, retryUnreachable)
	case code == "40001" || code == "40P01" || code == "55P03":
		// serialization failure, deadlock, lock not available
		return wrap(msgBusy, retryBusy)
	case code != "":
		return nil // PostgreSQL answered: a real error of the statement
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err) && !errors.Is(err, context.Canceled):
		return wrap(msgTimeout, retryUnreachable)
	case errors.Is(err, syscall.ENOSPC):
		return wrap(msgDiskFull, retryDiskFull)
	case errors.As(err, &connect), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		pgconn.SafeToRetry(err):
		return wrap(msgUnreachable, retryUnreachable)
	}
	return nil
}

// bound gives ctx the deadline of one store call that begins now, or
// until when it is set (a transaction's statements share its deadline).
func bound(ctx context.Context, until time.Time) (context.Context, context.CancelFunc) {
	if until.IsZero() {
		return context.WithTimeout(ctx, CallDeadline)
	}
	return context.WithDeadline(ctx, until)
}
