-- Directory store, SQLite. Times are microseconds since the Unix epoch (UTC).

CREATE TABLE directory_entries (
	account TEXT PRIMARY KEY,
	handle BLOB NOT NULL UNIQUE,
	region TEXT NOT NULL,
	created_us INTEGER NOT NULL
) STRICT;

-- Sessions are not tied to directory_entries by a foreign key: DeleteEntry
-- deletes them in the same transaction.
CREATE TABLE sessions (
	token_hash BLOB PRIMARY KEY,
	account TEXT NOT NULL,
	device TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_device ON sessions (account, device);
CREATE INDEX sessions_expires ON sessions (expires_us);

CREATE TABLE login_attempts (
	handle BLOB PRIMARY KEY,
	failures INTEGER NOT NULL,
	first_us INTEGER NOT NULL,
	last_us INTEGER NOT NULL
) STRICT;

CREATE TABLE system_keys (
	name TEXT PRIMARY KEY,
	version INTEGER NOT NULL,
	wrapper INTEGER NOT NULL,
	wrapped BLOB,
	created_us INTEGER NOT NULL
) STRICT;
