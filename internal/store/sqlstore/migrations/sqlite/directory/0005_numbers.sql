-- Messaging numbers, SQLite, kept only as discovery tokens (64-byte OPRF
-- outputs under a server key). Like sessions they are not tied to
-- directory_entries by a foreign key: DeleteEntry deletes them in the same
-- transaction.
CREATE TABLE numbers (
	token BLOB PRIMARY KEY,
	account TEXT NOT NULL,
	region TEXT NOT NULL,
	created_us INTEGER NOT NULL
) STRICT;

CREATE INDEX numbers_account ON numbers (account);

-- Discovery asks for every token in a few 2-byte buckets. substr on a blob
-- counts bytes, in SQLite as in PostgreSQL, so both schemas index the same
-- expression and share the query; token rides along so the lookup reads
-- the index alone.
CREATE INDEX numbers_prefix ON numbers (substr(token, 1, 2), token);
