-- Retention: purged_seq is the highest feed seq of a deletion record
-- (tombstone) purged from the account's feed. A phone whose cursor is below
-- it may have missed a deletion and must pull the feed from the start.

ALTER TABLE accounts ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0;
