-- The directory's audit log and access approvals, SQLite. The log is a
-- tamper-evident, append-only log kept as a tlog Merkle tree
-- (golang.org/x/mod/sumdb/tlog); see audit.go. Its tables are named
-- audit_directory_* so as not to collide with the region's audit_* tables
-- when both components share one database.

-- One row per record, by its index in the log (dense from 0). account is
-- the pseudonym of the account it concerns, NULL for none; data is the
-- record's canonical encoding, which the store never reads.
CREATE TABLE audit_directory_entries (
	idx INTEGER PRIMARY KEY,
	account BLOB,
	data BLOB NOT NULL
) STRICT;

CREATE INDEX audit_directory_entries_account ON audit_directory_entries (account, idx);

-- The tree's stored hashes, at their tlog.StoredHashIndex positions.
CREATE TABLE audit_directory_hashes (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Signed tree heads, one per size.
CREATE TABLE audit_directory_checkpoints (
	size INTEGER PRIMARY KEY,
	hash BLOB NOT NULL CHECK (length(hash) = 32),
	note BLOB NOT NULL,
	created_us INTEGER NOT NULL
) STRICT;

-- The log's size, in one row. An append locks it first and updates it in
-- the same transaction, so appends are serialised and the size always
-- matches the entries committed.
CREATE TABLE audit_directory_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL
) STRICT;

INSERT INTO audit_directory_head (id, size) VALUES (1, 0);

-- Staff requests to read an account's data. categories are category names
-- joined by commas, in the order given; owner_approved_us and revoked_us are
-- NULL until the owner approves and until the request is revoked. Requests
-- are staff records: DeleteEntry leaves them.
CREATE TABLE access_requests (
	id TEXT PRIMARY KEY,
	requester TEXT NOT NULL,
	account TEXT NOT NULL,
	region TEXT NOT NULL,
	categories TEXT NOT NULL,
	reason TEXT NOT NULL,
	duration_us INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	owner_approval INTEGER NOT NULL,
	owner_approved_us INTEGER,
	revoked_us INTEGER
) STRICT;

CREATE INDEX access_requests_account ON access_requests (account, created_us, id);

-- One approval per (request, approver).
CREATE TABLE approvals (
	request TEXT NOT NULL REFERENCES access_requests (id),
	approver TEXT NOT NULL,
	time_us INTEGER NOT NULL,
	PRIMARY KEY (request, approver)
) STRICT;

-- Whether staff access to an account needs its owner's approval; absent
-- means it does not. DeleteEntry deletes the account's row.
CREATE TABLE owner_settings (
	account TEXT PRIMARY KEY,
	owner_approval INTEGER NOT NULL
) STRICT;
