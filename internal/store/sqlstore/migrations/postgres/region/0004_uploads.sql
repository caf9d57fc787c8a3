-- Photo uploads and the blobs they become. The parts are in the region's
-- blob store; this is their index. hash is the device's keyed content hash
-- (HMAC with an account key), for de-duplication within one account.
CREATE TABLE uploads (
	id TEXT PRIMARY KEY,
	account TEXT NOT NULL REFERENCES accounts (id),
	category TEXT NOT NULL,
	size BIGINT NOT NULL,
	hash BYTEA NOT NULL,
	complete BOOLEAN NOT NULL,
	created_us BIGINT NOT NULL,
	expires_us BIGINT NOT NULL
);

CREATE INDEX uploads_hash ON uploads (account, category, hash);
CREATE INDEX uploads_expires ON uploads (complete, expires_us);
