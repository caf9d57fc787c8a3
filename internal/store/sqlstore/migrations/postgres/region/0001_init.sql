-- Region store, PostgreSQL. Times are microseconds since the Unix epoch
-- (UTC), as in the SQLite schema, so both dialects share every query.

-- consent_seq and feed_seq are the last Seq handed out to this account's
-- consent ledger and change feed; they are bumped in the transaction that
-- uses them, under the row lock, so Seqs are dense per account.
CREATE TABLE accounts (
	id TEXT PRIMARY KEY,
	country TEXT NOT NULL,
	salt BYTEA,
	kdf_time BIGINT NOT NULL,
	kdf_memory_kib BIGINT NOT NULL,
	kdf_threads BIGINT NOT NULL,
	auth_hash TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	consent_seq BIGINT NOT NULL DEFAULT 0,
	feed_seq BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE devices (
	id TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (id),
	pseudonym BYTEA NOT NULL,
	created_us BIGINT NOT NULL,
	UNIQUE (account, pseudonym)
);

-- The consent ledger. Append-only: see the trigger below. Its rows go only
-- by cascade, when DeleteAccount deletes the account row.
CREATE TABLE consent_events (
	account TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	seq BIGINT NOT NULL,
	category TEXT NOT NULL,
	turned_on BOOLEAN NOT NULL,
	device TEXT NOT NULL,
	time_us BIGINT NOT NULL,
	policy_version TEXT NOT NULL,
	PRIMARY KEY (account, seq)
);

CREATE INDEX consent_events_category ON consent_events (account, category, seq);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM accounts WHERE id = OLD.account) THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'consent ledger is append-only: its rows go only with their account'
		USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
	FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
	FOR EACH STATEMENT EXECUTE FUNCTION consent_events_append_only();

CREATE TABLE keks (
	version BIGINT PRIMARY KEY,
	wrapper BIGINT NOT NULL,
	wrapped BYTEA,
	created_us BIGINT NOT NULL
);

CREATE TABLE data_keys (
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	epoch BIGINT NOT NULL,
	version BIGINT NOT NULL,
	wrapper BIGINT NOT NULL,
	wrapped BYTEA,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (account, category)
);

-- The latest state of each record; seq is its place in the account's feed.
CREATE TABLE records (
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	id TEXT NOT NULL,
	version BIGINT NOT NULL,
	seq BIGINT NOT NULL,
	deleted BOOLEAN NOT NULL,
	ciphertext BYTEA,
	modified_us BIGINT NOT NULL,
	PRIMARY KEY (account, category, id),
	UNIQUE (account, seq)
);

CREATE INDEX records_feed ON records (account, category, seq);
