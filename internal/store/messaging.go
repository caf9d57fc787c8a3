package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// Number is a registered messaging number, kept only as its discovery
// token (an OPRF output under a server key).
type Number struct {
	Token   []byte
	Account candor.AccountID
	Region  candor.RegionID
	Created time.Time
}

// Numbers is the directory's registry of messaging numbers.
type Numbers interface {
	// RegisterNumber maps a token to an account, replacing any earlier
	// account (a number moves to whoever verified it last).
	RegisterNumber(ctx context.Context, n Number) error
	// NumberByToken returns a token's registration; NotFound if none.
	NumberByToken(ctx context.Context, token []byte) (Number, error)
	// TokensWithPrefixes returns every registered token starting with one
	// of the 2-byte prefixes.
	TokensWithPrefixes(ctx context.Context, prefixes [][]byte) ([][]byte, error)
	// UnregisterAccount removes an account's numbers (messaging turned off,
	// account deleted).
	UnregisterAccount(ctx context.Context, account candor.AccountID) error
}

// MessagingKeys are a device's public messaging keys.
type MessagingKeys struct {
	Account candor.AccountID
	Device  candor.DeviceID
	HPKE    []byte
	Sign    []byte
	Created time.Time
}

// Envelope is one queued message for one device: opaque sealed bytes.
type Envelope struct {
	ID      string // message id (shared by a message's envelopes)
	Account candor.AccountID
	Device  candor.DeviceID
	From    candor.AccountID
	Data    []byte // the encoded api.Envelope: ciphertext and signature
	Created time.Time
	Expires time.Time
}

// Receipt is a delivery receipt queued for a sender's device.
type Receipt struct {
	ID       string // message id
	Account  candor.AccountID
	Device   candor.DeviceID // the sender's device that gets it
	ToDevice candor.DeviceID // the device it was delivered to
	Time     time.Time
}

// Messages is a region's messaging state: device keys and queues.
type Messages interface {
	// PutMessagingKeys publishes (or replaces) a device's keys.
	PutMessagingKeys(ctx context.Context, k MessagingKeys) error
	// MessagingKeys lists an account's devices' keys.
	MessagingKeys(ctx context.Context, account candor.AccountID) ([]MessagingKeys, error)
	// DeleteMessaging removes an account's keys, queued envelopes and
	// receipts (messaging turned off).
	DeleteMessaging(ctx context.Context, account candor.AccountID) error
	// DeleteDeviceMessaging removes one device's keys, the envelopes queued
	// for it and its receipts (the device was revoked), and appends rec
	// (the revocation), in one transaction. None is not an error.
	DeleteDeviceMessaging(ctx context.Context, rec AuditRecord, account candor.AccountID, device candor.DeviceID) error

	// Enqueue stores envelopes (one transaction). Conflict if an (ID,
	// Device) pair exists.
	Enqueue(ctx context.Context, envs []Envelope) error
	// Pending returns up to limit envelopes for a device, oldest first,
	// that have not expired at now.
	Pending(ctx context.Context, account candor.AccountID, device candor.DeviceID, now time.Time, limit int) ([]Envelope, error)
	// Ack deletes a device's envelopes by message id and returns the ones
	// deleted (unknown ids are skipped).
	Ack(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) ([]Envelope, error)
	// PutReceipts stores receipts.
	PutReceipts(ctx context.Context, rs []Receipt) error
	// Receipts returns up to limit receipts for a device, oldest first.
	Receipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, limit int) ([]Receipt, error)
	// AckReceipts deletes a device's receipts by message id.
	AckReceipts(ctx context.Context, account candor.AccountID, device candor.DeviceID, ids []string) error
	// ExpireEnvelopes deletes envelopes that expired before now and
	// reports how many.
	ExpireEnvelopes(ctx context.Context, now time.Time) (int, error)
}
