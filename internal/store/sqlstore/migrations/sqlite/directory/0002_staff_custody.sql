-- Staff identities and the custody of the root key, SQLite.

-- Roles are lowercase words joined by commas, in the order given. Only the
-- SHA-256 of a staff token is stored. revoked_us is NULL while the identity
-- is active.
CREATE TABLE staff (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	roles TEXT NOT NULL,
	token_hash BLOB NOT NULL UNIQUE,
	created_us INTEGER NOT NULL,
	revoked_us INTEGER
) STRICT;

CREATE INDEX staff_created ON staff (created_us, id);

-- One row per root key version: how many shares it was split into, how
-- many rebuild it, and the 32-byte hash of each share, concatenated in share
-- order.
CREATE TABLE custody (
	root_version INTEGER PRIMARY KEY,
	shares INTEGER NOT NULL,
	threshold INTEGER NOT NULL,
	share_hashes BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	CHECK (threshold >= 2 AND threshold <= shares AND shares <= 255),
	CHECK (length(share_hashes) = 32 * shares)
) STRICT;
