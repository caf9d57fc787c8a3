-- Allowances counted across every instance: sign-ins per address,
-- verification codes per account and per number, wrong codes, discovery
-- lookups. Keys are keyed hashes made by the server: no address, number
-- or account is stored here.
CREATE TABLE quotas (
	key BLOB PRIMARY KEY,
	start_us INTEGER NOT NULL,
	ends_us INTEGER NOT NULL,
	used INTEGER NOT NULL
) STRICT;

CREATE INDEX quotas_ends ON quotas (ends_us);

-- Messaging verification codes waiting to be typed, one per account: a
-- keyed MAC of the code and the number it went to, never either itself.
CREATE TABLE verifications (
	account TEXT PRIMARY KEY,
	mac BLOB NOT NULL,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX verifications_expires ON verifications (expires_us);
