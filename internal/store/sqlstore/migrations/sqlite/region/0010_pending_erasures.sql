-- Accounts deleted here whose blobs and messaging registration (kept
-- outside this database) may not be erased yet: DeleteAccount adds the
-- account in its transaction, and the erasure, or the upkeep that retries
-- it, removes the row once they are gone.

CREATE TABLE pending_erasures (
	account TEXT PRIMARY KEY,
	since_us BIGINT NOT NULL
);
