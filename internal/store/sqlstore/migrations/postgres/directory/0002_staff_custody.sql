-- Staff identities and the custody of the root key, PostgreSQL.

-- Roles are lowercase words joined by commas, in the order given. Only the
-- SHA-256 of a staff token is stored. revoked_us is NULL while the identity
-- is active.
CREATE TABLE staff (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	roles TEXT NOT NULL,
	token_hash BYTEA NOT NULL UNIQUE,
	created_us BIGINT NOT NULL,
	revoked_us BIGINT
);

CREATE INDEX staff_created ON staff (created_us, id);

-- One row per root key version: how many shares it was split into, how
-- many rebuild it, and the 32-byte hash of each share, concatenated in share
-- order.
CREATE TABLE custody (
	root_version BIGINT PRIMARY KEY,
	shares INTEGER NOT NULL,
	threshold INTEGER NOT NULL,
	share_hashes BYTEA NOT NULL,
	created_us BIGINT NOT NULL,
	CHECK (threshold >= 2 AND threshold <= shares AND shares <= 255),
	CHECK (octet_length(share_hashes) = 32 * shares)
);
