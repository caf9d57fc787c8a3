-- The staff console's sign-in challenges are stateless until used: the
-- server seals each one's expiry under a system secret, and stores nothing
-- when it issues one (so that strangers asking for many fill nothing).
-- A challenge answered by a verified assertion of a registered passkey is
-- recorded here until it expires, so that it is answered once.
CREATE TABLE webauthn_spent_challenges (
	challenge TEXT PRIMARY KEY,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX webauthn_spent_challenges_expires ON webauthn_spent_challenges (expires_us);

-- Sign-in challenges are no longer kept while they wait.
DELETE FROM webauthn_challenges WHERE staff = '';
