-- Photo uploads and the blobs they become. The parts are in the region's
-- blob store; this is their index. hash is the device's keyed content hash
-- (HMAC with an account key), for de-duplication within one account.
CREATE TABLE uploads (
	id TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	size INTEGER NOT NULL,
	hash BLOB NOT NULL,
	complete INTEGER NOT NULL,
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX uploads_hash ON uploads (account, category, hash);
CREATE INDEX uploads_expires ON uploads (complete, expires_us);
