-- Shred secrets, SQLite: the directory's half of each data key, one per
-- (account, category, consent epoch), wrapped by the master key. Like
-- sessions they are not tied to directory_entries by a foreign key:
-- DeleteEntry deletes them in the same transaction.

CREATE TABLE shred_secrets (
	account TEXT NOT NULL,
	category TEXT NOT NULL,
	epoch INTEGER NOT NULL,
	version INTEGER NOT NULL,
	wrapper INTEGER NOT NULL,
	wrapped BLOB,
	created_us INTEGER NOT NULL,
	PRIMARY KEY (account, category, epoch)
) STRICT;
