-- Photos: shared_us is when a second photo record of the account was last
-- given this blob by de-duplication (the zero time's microseconds when
-- never). A blob handed out lately is not deleted by a phone that has not
-- seen that record yet.

ALTER TABLE uploads ADD COLUMN shared_us INTEGER NOT NULL DEFAULT -62135596800000000;
