-- Region store, SQLite. Times are microseconds since the Unix epoch (UTC);
-- booleans are 0 or 1. Tables are STRICT so a value of the wrong type fails.

-- consent_seq and feed_seq are the last Seq handed out to this account's
-- consent ledger and change feed; they are bumped in the transaction that
-- uses them, so Seqs are dense per account.
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	country TEXT NOT NULL,
	salt BLOB,
	kdf_time INTEGER NOT NULL,
	kdf_memory_kib INTEGER NOT NULL,
	kdf_threads INTEGER NOT NULL,
	auth_hash TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	consent_seq INTEGER NOT NULL DEFAULT 0,
	feed_seq INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (id),
	pseudonym BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	UNIQUE (account, pseudonym)
) STRICT;

-- The consent ledger. Append-only: see the triggers below. Its rows go only
-- by cascade, when DeleteAccount deletes the account row.
CREATE TABLE consent_events (
	account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,
	category TEXT NOT NULL,
	turned_on INTEGER NOT NULL,
	device TEXT NOT NULL,
	time_us INTEGER NOT NULL,
	policy_version TEXT NOT NULL,
	PRIMARY KEY (account, seq)
) STRICT;

CREATE INDEX consent_events_category ON consent_events (account, category, seq);

CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN
	SELECT RAISE(ABORT, 'consent ledger is append-only');
END;

CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
WHEN EXISTS (SELECT 1 FROM accounts WHERE id = OLD.account)
BEGIN
	SELECT RAISE(ABORT, 'consent ledger is append-only: its rows go only with their account');
END;

CREATE TABLE keks (
	version INTEGER PRIMARY KEY,
	wrapper INTEGER NOT NULL,
	wrapped BLOB,
	created_us INTEGER NOT NULL
) STRICT;

CREATE TABLE data_keys (
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	version INTEGER NOT NULL,
	wrapper INTEGER NOT NULL,
	wrapped BLOB,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (account, category)
) STRICT;

-- The latest state of each record; seq is its place in the account's feed.
CREATE TABLE records (
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	id TEXT NOT NULL,
	version INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	ciphertext BLOB,
	modified_us INTEGER NOT NULL,
	PRIMARY KEY (account, category, id),
	UNIQUE (account, seq)
) STRICT;

CREATE INDEX records_feed ON records (account, category, seq);
