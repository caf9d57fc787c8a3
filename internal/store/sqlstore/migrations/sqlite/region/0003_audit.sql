-- The region's audit log, SQLite: a tamper-evident, append-only log kept
-- as a tlog Merkle tree (golang.org/x/mod/sumdb/tlog); see audit.go. The
-- directory keeps its own log in tables named audit_directory_*, so that
-- both components may share one database.

-- One row per record, by its index in the log (dense from 0). account is
-- the pseudonym of the account it concerns, NULL for none; data is the
-- record's canonical encoding, which the store never reads.
CREATE TABLE audit_entries (
	idx INTEGER PRIMARY KEY,
	account BLOB,
	data BLOB NOT NULL
) STRICT;

CREATE INDEX audit_entries_account ON audit_entries (account, idx);

-- The tree's stored hashes, at their tlog.StoredHashIndex positions.
CREATE TABLE audit_hashes (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Signed tree heads, one per size.
CREATE TABLE audit_checkpoints (
	size INTEGER PRIMARY KEY,
	hash BLOB NOT NULL CHECK (length(hash) = 32),
	note BLOB NOT NULL,
	created_us INTEGER NOT NULL
) STRICT;

-- The log's size, in one row. An append locks it first and updates it in
-- the same transaction, so appends are serialised and the size always
-- matches the entries committed.
CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL
) STRICT;

INSERT INTO audit_head (id, size) VALUES (1, 0);
