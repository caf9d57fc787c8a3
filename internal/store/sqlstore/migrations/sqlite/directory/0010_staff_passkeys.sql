-- The staff console, SQLite: staff passkeys (WebAuthn credentials), staff
-- browser sessions, how each approval was made, and the owner's refusal
-- of an access request.

-- One row per passkey. id is the credential id the authenticator chose;
-- public_key its COSE public key; sign_count the last counter it reported
-- (a counter that goes back marks a cloned authenticator); flags the
-- authenticator data flags at registration (backup eligibility must not
-- change). A revoked staff identity's passkeys stay, and stop working.
CREATE TABLE staff_passkeys (
	id BLOB PRIMARY KEY,
	staff TEXT NOT NULL REFERENCES staff (id),
	public_key BLOB NOT NULL,
	sign_count INTEGER NOT NULL,
	aaguid BLOB NOT NULL,
	flags INTEGER NOT NULL,
	transports TEXT NOT NULL,
	created_us INTEGER NOT NULL,
	last_used_us INTEGER
) STRICT;

CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff, created_us);

-- Staff browser sessions: only the SHA-256 of the token is stored.
CREATE TABLE staff_sessions (
	token_hash BLOB PRIMARY KEY,
	staff TEXT NOT NULL REFERENCES staff (id),
	created_us INTEGER NOT NULL,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX staff_sessions_expires ON staff_sessions (expires_us);

-- How an approval was made: "token" (a staff token, as before) or
-- "passkey" (a fresh passkey assertion bound to the request).
ALTER TABLE approvals ADD COLUMN method TEXT NOT NULL DEFAULT 'token';

-- Whether the account's owner refused the request (revoked it themselves).
ALTER TABLE access_requests ADD COLUMN refused_by_owner INTEGER NOT NULL DEFAULT 0;

-- The staff console lists every request, newest first.
CREATE INDEX access_requests_created ON access_requests (created_us, id);

-- WebAuthn challenges waiting for their answer, so that every instance
-- agrees: each is deleted as it is answered (once), and they expire after
-- minutes. staff is '' for a sign-in (bound to nobody); request is the
-- access request an approval is bound to, '' for none; session is
-- go-webauthn's SessionData, JSON.
CREATE TABLE webauthn_challenges (
	challenge TEXT PRIMARY KEY,
	ceremony TEXT NOT NULL,
	staff TEXT NOT NULL,
	request TEXT NOT NULL,
	session BLOB NOT NULL,
	expires_us INTEGER NOT NULL
) STRICT;

CREATE INDEX webauthn_challenges_staff ON webauthn_challenges (staff, expires_us);
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_us);
