-- Directory store, PostgreSQL. Times are microseconds since the Unix epoch
-- (UTC), as in the SQLite schema, so both dialects share every query.

CREATE TABLE directory_entries (
	account TEXT PRIMARY KEY,
	handle BYTEA NOT NULL UNIQUE,
	region TEXT NOT NULL,
	created_us BIGINT NOT NULL
);

-- Sessions are not tied to directory_entries by a foreign key: DeleteEntry
-- deletes them in the same transaction.
CREATE TABLE sessions (
	token_hash BYTEA PRIMARY KEY,
	account TEXT NOT NULL,
	device TEXT NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL
);

CREATE INDEX sessions_device ON sessions (account, device);
CREATE INDEX sessions_expires ON sessions (expires_us);

CREATE TABLE login_attempts (
	handle BYTEA PRIMARY KEY,
	failures BIGINT NOT NULL,
	first_us BIGINT NOT NULL,
	last_us BIGINT NOT NULL
);

CREATE TABLE system_keys (
	name TEXT PRIMARY KEY,
	version BIGINT NOT NULL,
	wrapper BIGINT NOT NULL,
	wrapped BYTEA,
	created_us BIGINT NOT NULL
);
