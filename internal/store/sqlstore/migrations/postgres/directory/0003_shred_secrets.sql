-- Shred secrets, PostgreSQL: the directory's half of each data key, one per
-- (account, category, consent epoch), wrapped by the master key. Like
-- sessions they are not tied to directory_entries by a foreign key:
-- DeleteEntry deletes them in the same transaction.

CREATE TABLE shred_secrets (
	account TEXT NOT NULL,
	category TEXT NOT NULL,
	epoch BIGINT NOT NULL,
	version BIGINT NOT NULL,
	wrapper BIGINT NOT NULL,
	wrapped BYTEA,
	created_us BIGINT NOT NULL,
	PRIMARY KEY (account, category, epoch)
);
