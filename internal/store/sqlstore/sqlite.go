package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/candorcloud/candor"
)

// OpenSQLiteRegion opens, creating it if needed, the region store in the
// SQLite database file at path, and brings its schema up to date. path must
// name a file (not ":memory:"): readers and the writer use separate
// connections to it.
//
// The database runs in WAL mode with foreign keys and secure_delete on. One
// writer connection serialises write transactions (which begin IMMEDIATE),
// so concurrent callers queue instead of failing with SQLITE_BUSY; reads run
// in parallel on their own connections. Only one process may open the file
// at a time for writing.
func OpenSQLiteRegion(path string) (*RegionStore, error) {
	d, err := openSQLite(path, regionSchema)
	if err != nil {
		return nil, err
	}
	return newRegionStore(d), nil
}

// OpenSQLiteDirectory opens, creating it if needed, the directory store in
// the SQLite database file at path, as OpenSQLiteRegion does for a region.
func OpenSQLiteDirectory(path string) (*DirectoryStore, error) {
	d, err := openSQLite(path, directorySchema)
	if err != nil {
		return nil, err
	}
	return newDirectoryStore(d), nil
}

var sqliteDialect = &dialect{
	name:            "sqlite",
	blobType:        "BLOB",
	cacheStatements: true,
	unique: func(err error) bool {
		c := sqliteCode(err)
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	foreignKey: func(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
	scrub:      sqliteScrub,
}

// errNotWiped is the answer to a deletion that committed but could not yet
// be wiped from the write-ahead log: retryable, and asking again wipes.
var errNotWiped = &candor.Error{Kind: candor.Unavailable, RetryAfter: time.Second,
	Message: "the deletion is done but not yet wiped from the disk: ask again in a moment"}

// sqliteScrub wipes what a committed deletion left in the write-ahead log.
// secure_delete overwrites deleted content in the database file, but the
// WAL still holds the pages as they were before (the deleted rows among
// them) until a checkpoint copies them back and the log is reset. A
// TRUNCATE checkpoint does both and leaves the WAL empty: it waits (the
// busy timeout) for readers of older snapshots and for the writer, so it
// runs on the writer connection, where no transaction of this store is
// open, and tries again briefly if another process kept it busy.
//
// The wipe as a whole has scrubDeadline: it holds the store's one writer
// connection while it waits, so it must not stall every other write. A
// wipe that cannot finish in time, or whose checkpoint fails, answers the
// retryable errNotWiped (the deletion itself committed); the next wipe of
// the same file wipes what this one left.
func sqliteScrub(ctx context.Context, d *db) error {
	ctx, cancel := context.WithTimeout(ctx, scrubDeadline)
	defer cancel()
	for {
		var busy, frames, done int
		if err := d.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
			return errNotWiped
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return errNotWiped
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// scrubDeadline bounds one wipe of the write-ahead log.
const scrubDeadline = 2 * time.Second

// Files are the database file and its companions: the write-ahead log and
// its index, and a rollback journal (made only while the WAL is switched
// on).
var sqliteFiles = []string{"", "-wal", "-shm", "-journal"}

// keepPrivate makes the database's files readable by their owner only,
// whatever mode they were made with: the files hold wrapped keys and
// ciphertext, and a world-readable copy is a copy anyone on the host may
// take. SQLite makes the WAL and its index with the database file's mode.
func keepPrivate(path string) error {
	for _, suffix := range sqliteFiles {
		if err := os.Chmod(path+suffix, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return internal("open sqlite", err)
		}
	}
	return nil
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// The connection parameters. secure_delete makes SQLite overwrite deleted
// content with zeros instead of leaving it in free pages: it is what lets a
// destroyed data key or deleted ciphertext leave the file.
const (
	sqliteCommon = "_busy_timeout=10000&_foreign_keys=1&_pragma=secure_delete(1)"
	sqliteWriter = sqliteCommon + "&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_query_only=1"
)

func openSQLite(path, component string) (*db, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, candor.E(candor.Invalid, "sqlite store needs the path of a database file")
	}
	ctx := context.Background()
	if err := keepPrivate(path); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Made 0600 before SQLite opens it, so no moment passes with the
		// process's default mode.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, internal("open sqlite", err)
		}
		if err == nil {
			f.Close()
		}
	}
	write, err := sql.Open("sqlite", path+"?"+sqliteWriter)
	if err != nil {
		return nil, internal("open sqlite", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	d := &db{dialect: sqliteDialect, write: write, read: write}
	if err := checkSQLite(ctx, write); err != nil {
		write.Close()
		return nil, err
	}
	if err := d.migrate(ctx, component); err != nil {
		write.Close()
		return nil, err
	}
	if err := keepPrivate(path); err != nil {
		write.Close()
		return nil, err
	}
	// The reader pool opens after the migration, so the file exists and is
	// in WAL mode when a query_only connection first reads it.
	d.read, err = sql.Open("sqlite", path+"?"+sqliteReader)
	if err != nil {
		write.Close()
		return nil, internal("open sqlite", err)
	}
	d.read.SetMaxOpenConns(8)
	d.read.SetMaxIdleConns(8)
	return d, nil
}

// checkSQLite fails unless the settings the store's promises rest on are in
// force on the connection.
func checkSQLite(ctx context.Context, c *sql.DB) error {
	var mode string
	var secure, fk int
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return internal("open sqlite", err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA secure_delete").Scan(&secure); err != nil {
		return internal("open sqlite", err)
	}
	if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return internal("open sqlite", err)
	}
	if !strings.EqualFold(mode, "wal") || secure != 1 || fk != 1 {
		return internal("open sqlite", fmt.Errorf("settings not in force: journal_mode=%s secure_delete=%d foreign_keys=%d", mode, secure, fk))
	}
	return nil
}
