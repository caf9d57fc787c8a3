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
	// the time. NotFound if none.
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
}
