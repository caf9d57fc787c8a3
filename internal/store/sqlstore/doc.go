// Package sqlstore implements the metadata stores of package store over
// database/sql, once, for two dialects: SQLite (the pure-Go driver
// modernc.org/sqlite, for the embedded server and tests) and PostgreSQL
// (pgx, for production).
//
// Queries are written once with ? placeholders and rebound to $1, $2, … for
// PostgreSQL. What differs between the dialects — column types, triggers —
// lives in per-dialect migration files under migrations/, applied in one
// transaction when a store is opened and recorded in schema_migrations.
//
// A Region store and a Directory store are opened separately, because in
// production they live in different databases (one per region, plus one for
// the directory) and in the embedded server in different files
// (DATA/regions/<id>/candor.db and DATA/directory.db). Their tables do not
// collide, so both may share one database too.
//
// # Storage conventions
//
// Times are stored as microseconds since the Unix epoch in UTC (BIGINT,
// INTEGER in SQLite) and come back in UTC, truncated to the microsecond. A
// zero creation time (Account.Created, Device.Created, Entry.Created,
// Session.Created, WrappedKey.Created, ConsentEvent.Time) is replaced by the
// time of the call.
//
// Each account row holds two counters, the last consent Seq and the last
// feed Seq. Every transaction that changes an account's consent, keys or
// records first locks that row (SELECT … FOR UPDATE in PostgreSQL; SQLite
// has one writer at a time), so consent checks and writes of one account are
// serialised, and feed Seqs are dense per account and committed in order: a
// reader paging the feed by Seq never skips a row that commits later.
//
// # Promises kept by the schema
//
// The consent ledger is append-only in the database too: triggers abort
// every UPDATE of consent_events, and every DELETE while the account row
// still exists. Ledger rows go only by ON DELETE CASCADE when DeleteAccount
// deletes the account row. The other tables that hang off an account refer
// to it without cascade, so DeleteAccount fails loudly rather than leave a
// row behind if a table is ever added and forgotten.
//
// SQLite runs with secure_delete on, so deleted data keys, ciphertext and
// shred secrets, deleted KEKs and the old wrapping of a rewrapped data key
// are overwritten in the database file rather than left in free pages. Until the
// next checkpoint the write-ahead log may still hold page images written
// before the deletion; closing the store checkpoints and removes the log.
//
// # The audit logs
//
// Each component keeps its own tamper-evident log (store.AuditLog) in its
// database: a tlog Merkle tree (golang.org/x/mod/sumdb/tlog) whose entries,
// stored hashes (at their tlog.StoredHashIndex positions) and checkpoints
// are rows, and whose size is one head row. The region's tables are
// audit_entries, audit_hashes, audit_checkpoints and audit_head; the
// directory's are the same with audit_directory_ in front, so the two logs
// stay apart when the components share one database.
//
// An append is part of a transaction: the methods that are accesses (see
// store.AuditLog) append the records their context carries after their own
// work, in their transaction, so that the access and its records commit
// together or not at all. An append first bumps the size in the head row,
// which locks it until the commit (PostgreSQL; SQLite has one writer at a
// time): appends to one log are serialised, indexes are dense, and
// computing a record's new tree hashes reads at most about log2(n) stored
// hashes in the same transaction. Changes and ConsentLedger, reads, run in
// a write transaction only when there are records to append.
//
// Access requests, their approvals and owners' settings live in the
// directory (store.Approvals).
//
// # Messaging
//
// The message queue (envelopes) is the busiest table: every message is an
// Enqueue and an Ack. Both are one statement each — a multi-row INSERT, a
// DELETE … RETURNING by primary key — sent without BEGIN and COMMIT around
// it (a statement is atomic on its own), and with SQLite kept prepared on
// the writer connection (see inStatement), so that each holds SQLite's
// single writer as briefly as possible. Pending and Receipts read their
// indexes in order. Discovery buckets tokens by their first two bytes
// through an index on substr(token, 1, 2), which both dialects compute on
// bytes.
//
// # Moving accounts
//
// ExportAccount reads an account's rows in one read-only transaction that
// sees one snapshot (REPEATABLE READ in PostgreSQL, a WAL read transaction
// in SQLite), so its parts and counters agree while the account is
// written. ImportAccount deletes whatever the target holds of the account
// (as DeleteAccount does, so the ledger goes by cascade) and inserts the
// rows as given — Seqs, counters, times — batchRows rows per statement,
// in one transaction; neither is an access, and neither appends to the
// audit log. accounts_country indexes AccountsByCountry. In the directory
// a nullable moving column holds the region an account is being moved to;
// SwitchRegion is one UPDATE conditioned on the current region.
//
// # Errors
//
// A missing row is a candor.NotFound error, a uniqueness violation a
// candor.Conflict error, malformed input a candor.Invalid error; messages are
// lowercase and hold no personal data. Other failures are returned wrapped
// with the operation's name and have kind candor.Internal.
package sqlstore
