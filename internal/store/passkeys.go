package store

import (
	"context"
	"time"
)

// Passkey is a staff member's WebAuthn credential: what the server needs
// to check an assertion made with it. It holds no secret.
type Passkey struct {
	ID         []byte // the credential id, as the authenticator chose it
	Staff      string // staff id
	PublicKey  []byte // COSE encoded
	SignCount  uint32
	AAGUID     []byte
	Flags      uint8 // authenticator data flags at registration
	Transports []string
	Created    time.Time
	LastUsed   time.Time // zero until first used
}

// StaffSession is a staff member's browser session (the staff console).
// Only the SHA-256 of its token is stored.
type StaffSession struct {
	TokenHash []byte
	Staff     string
	Created   time.Time
	Expires   time.Time
}

// StaffPasskeys keeps staff passkeys and staff browser sessions (the
// directory). Whether the staff identity behind them is revoked is the
// caller's to check, on every use.
type StaffPasskeys interface {
	// AddPasskey stores a passkey and appends rec in the same transaction;
	// Conflict if its id exists; NotFound if the staff identity does not.
	AddPasskey(ctx context.Context, rec AuditRecord, p Passkey) error
	// Passkey returns a passkey by credential id; NotFound if none.
	Passkey(ctx context.Context, id []byte) (Passkey, error)
	// PasskeysOf lists a staff member's passkeys, oldest first.
	PasskeysOf(ctx context.Context, staff string) ([]Passkey, error)
	// UsePasskey records a use: the counter the authenticator reported and
	// the time. The counter only goes up: Conflict if it is not above the
	// stored one (a cloned authenticator, or a concurrent use that stored a
	// later counter first), unless both are zero (an authenticator that
	// keeps no counter). NotFound if none.
	UsePasskey(ctx context.Context, id []byte, signCount uint32, at time.Time) error
	// CreateStaffSession stores a session and appends rec (the sign-in) in
	// the same transaction, deleting sessions expired at s.Created;
	// Conflict if the hash exists; NotFound if the staff identity does not.
	CreateStaffSession(ctx context.Context, rec AuditRecord, s StaffSession) error
	// StaffSession returns a session by token hash, expired or not;
	// NotFound if none.
	StaffSession(ctx context.Context, tokenHash []byte) (StaffSession, error)
	// DeleteStaffSession deletes a session; deleting none is not an error.
	DeleteStaffSession(ctx context.Context, tokenHash []byte) error
	// StaffByID returns a staff identity, revoked or not; NotFound if none.
	StaffByID(ctx context.Context, id string) (Staff, error)

	// PutChallenge deletes the challenges expired at now, then stores c
	// unless limit challenges of the same Staff wait already: then ok is
	// false and nothing is stored. Conflict if the challenge exists.
	PutChallenge(ctx context.Context, c Challenge, limit int, now time.Time) (ok bool, err error)
	// TakeChallenge deletes a challenge and returns it, once: NotFound if
	// it does not exist, was taken already or expired at now.
	TakeChallenge(ctx context.Context, challenge string, now time.Time) (Challenge, error)
	// SpendChallenge records that a sign-in challenge (stateless until
	// used: it carries its own expiry, sealed by the server) was answered
	// by a verified assertion, deleting the records expired at now first.
	// Conflict if it was spent already (of two concurrent spends, one
	// wins); Invalid without a challenge or with an expiry not after now.
	SpendChallenge(ctx context.Context, challenge string, expires, now time.Time) error
}

// Challenge is a WebAuthn challenge waiting for its answer, kept in the
// directory so that every instance agrees on it.
type Challenge struct {
	Challenge string // base64url, as the client echoes it
	Ceremony  string // what it was issued for
	Staff     string // the staff member it is bound to; "" for nobody
	Request   string // the access request it is bound to; "" for none
	Session   []byte // the ceremony's state (go-webauthn's SessionData, JSON)
	Expires   time.Time
}
