// Package store defines the metadata store contracts of Candor: the global
// Directory and the per-region Region store. Implementations live in
// sub-packages (sqlstore: SQLite and PostgreSQL) and must all pass the
// conformance suite in storetest.
//
// Stores hold only what the layers above give them: ciphertext, wrapped keys,
// hashes and pseudonyms. They never see a password, an email, an IMEI or the
// content of a record in the clear.
//
// Errors: a missing row is a candor.NotFound error, a uniqueness violation a
// candor.Conflict error; anything else is returned as is (Internal).
// All methods are safe for concurrent use.
package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// Account is an account's credentials as its home region keeps them.
type Account struct {
	ID      candor.AccountID
	Country string // ISO 3166-1 alpha-2, used to choose the home region
	// Salt and KDF are what the device used to derive its auth key.
	Salt []byte
	KDF  KDF
	// AuthHash is an Argon2id hash (PHC string) of the auth key the device
	// derived. It is not the password, nor a hash of it alone.
	AuthHash string
	Created  time.Time
}

// KDF is the Argon2id cost of the device-side derivation.
type KDF struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// Device is a registered device. Pseudonym is the device's keyed IMEI
// pseudonym, unique per account (for an app password, random bytes).
// Kind is empty for a phone, DeviceApp for an app password and
// DeviceBrowser for a browser; Name is the label its owner gave an app
// password.
type Device struct {
	ID        candor.DeviceID
	Account   candor.AccountID
	Pseudonym []byte
	Created   time.Time
	Kind      string
	Name      string
}

// Kinds of devices that are not phones.
const (
	// DeviceApp is the Kind of an app password: a program that signs in
	// with HTTP Basic on the CardDAV endpoint, for contacts only.
	DeviceApp = "app"
	// DeviceBrowser is the Kind of a browser signed in to the privacy
	// center: a session of its own, carried in a cookie, for a few hours.
	DeviceBrowser = "browser"
)

// ConsentEvent is one entry of the append-only consent ledger. Seq is
// assigned by the store, increasing per account.
type ConsentEvent struct {
	Seq           int64
	Account       candor.AccountID
	Category      candor.Category
	On            bool
	Device        candor.DeviceID
	Time          time.Time
	PolicyVersion string
}

// WrappedKey is key material encrypted under the key above it in the
// hierarchy. For a region key (KEK) Wrapper is the root key's version; for a
// data key (DEK) it is the version of the KEK that wraps it.
type WrappedKey struct {
	Version int64
	Wrapper int64
	Wrapped []byte
	Created time.Time
}

// DataKey is the wrapped data key of one (account, category) for one consent
// epoch.
type DataKey struct {
	Account  candor.AccountID
	Category candor.Category
	Epoch    int64
	Key      WrappedKey
}

// Rewrap replaces the wrapped data key of (Account, Category) with Key,
// provided the stored one still has Epoch and is wrapped by OldWrapper.
type Rewrap struct {
	Account    candor.AccountID
	Category   candor.Category
	Epoch      int64
	OldWrapper int64
	Key        WrappedKey
}

// ShredSecret is the directory's half of a data key: the effective data key
// of (Account, Category, Epoch) is derived from both the wrapped key in the
// region's database and this secret (wrapped by the master key, and,
// from version 2, by the erasure key of the period Wrapper). Deleting
// either destroys the data; keeping them in different databases means a
// copy of a region's database taken before a deletion stays unreadable
// after it.
type ShredSecret struct {
	Account  candor.AccountID
	Category candor.Category
	Epoch    int64
	Key      WrappedKey
}

// Change is one sealed edit to apply. Version must be BaseVersion+1; the
// ciphertext was sealed for that version. A deletion has no ciphertext.
type Change struct {
	ID          string
	BaseVersion int64
	Version     int64
	Deleted     bool
	Ciphertext  []byte
}

// Record is the latest state of one record. Seq is its position in the
// account's change feed: every applied change moves the record to a new,
// higher Seq.
type Record struct {
	Account    candor.AccountID
	Category   candor.Category
	ID         string
	Version    int64
	Seq        int64
	Deleted    bool
	Ciphertext []byte
	Modified   time.Time
}

// Result is the outcome of one Change. When Applied is false the record
// changed under the caller (its version is not BaseVersion): Current holds it
// as stored (a zero Record with Version 0 when it does not exist) and nothing
// was written for this change.
type Result struct {
	ID      string
	Applied bool
	Version int64
	Seq     int64
	Current Record
}

// Region is the metadata store of one region: accounts homed there, their
// devices, consent ledger, wrapped keys and sealed records. It is the sum of
// named roles; each consumer owns the narrower interface it needs (for
// instance records.Store, consent.Store, keyring.RegionKeys).
type Region interface {
	AuditLog
	Accounts
	Consents
	RegionKeys
	Feed
	Retention
	Uploads
	Messages
	Migrations

	Close() error
}

// Accounts keeps a region's accounts and their devices.
type Accounts interface {
	// CreateAccount stores a new account; Conflict if the id exists.
	CreateAccount(ctx context.Context, a Account) error
	// Account returns an account; NotFound if absent.
	Account(ctx context.Context, id candor.AccountID) (Account, error)
	// DeleteAccount removes the account and everything of it in this
	// region: devices, consent ledger, data keys and records, and appends
	// rec in the same transaction. Deleting an absent account is not an
	// error (rec is appended all the same). An account that was there is
	// added to the pending erasures in the same transaction.
	DeleteAccount(ctx context.Context, rec AuditRecord, id candor.AccountID) error
	// PendingErasures lists up to limit accounts deleted here whose
	// erasure outside this database (blobs, messaging registration) is not
	// known to be done, the oldest first.
	PendingErasures(ctx context.Context, limit int) ([]candor.AccountID, error)
	// ErasureDone removes an account from the pending erasures (absent: not
	// an error).
	ErasureDone(ctx context.Context, id candor.AccountID) error

	// RegisterDevice stores d, or returns the device already registered
	// with the same (Account, Pseudonym) unchanged, and appends rec (the
	// device's sign-in) in the same transaction.
	RegisterDevice(ctx context.Context, rec AuditRecord, d Device) (Device, error)
	// Devices lists an account's devices, oldest first.
	Devices(ctx context.Context, account candor.AccountID) ([]Device, error)
	// DeleteDevices deletes those of the account's devices among ids that
	// are of kind, with their messaging keys, envelopes and receipts, in
	// one transaction, and returns how many it deleted. Kind must not be
	// empty (phones are never deleted this way) and ids at most
	// MaxDeleteDevices: Invalid, and nothing is deleted.
	DeleteDevices(ctx context.Context, account candor.AccountID, kind string, ids []candor.DeviceID) (int, error)
}

// MaxDeleteDevices bounds the ids of one DeleteDevices.
const MaxDeleteDevices = 100

// Consents keeps each account's append-only consent ledger (promises
// P1-P3).
type Consents interface {
	// AppendConsent appends an event to the ledger and returns it with Seq
	// and Time as stored (Time is kept if set), and appends rec in the same
	// transaction. When the category is already in the state e asks for
	// (its latest event has the same On, or e turns off a category never
	// turned on), nothing is appended to the ledger and the latest event
	// (or e with Seq 0) is returned; rec is appended all the same, so a
	// request that changed nothing is still on record. When the event
	// turns a category off, the same transaction destroys that category's
	// data key and deletes its records and uploads: after it returns,
	// nothing of the category remains, and no ApplyChanges for the old
	// epoch can succeed. Ledger rows are never updated or deleted except
	// by DeleteAccount.
	AppendConsent(ctx context.Context, rec AuditRecord, e ConsentEvent) (ConsentEvent, error)
	// ConsentLedger lists an account's consent events, by Seq ascending,
	// and appends rec in the same transaction.
	ConsentLedger(ctx context.Context, rec AuditRecord, account candor.AccountID) ([]ConsentEvent, error)
	// ConsentState returns the latest event per category; categories never
	// touched are absent.
	ConsentState(ctx context.Context, account candor.AccountID) (map[candor.Category]ConsentEvent, error)
}

// RegionKeys keeps the region's key-encryption keys and the wrapped data
// keys of its accounts (package keyring).
type RegionKeys interface {
	// PutKEK stores a new version of this region's key-encryption key;
	// Conflict if the version exists.
	PutKEK(ctx context.Context, k WrappedKey) error
	// KEKs lists all stored KEK versions, oldest first.
	KEKs(ctx context.Context) ([]WrappedKey, error)

	// DataKey returns the data key of (account, category); NotFound if none.
	DataKey(ctx context.Context, account candor.AccountID, c candor.Category) (DataKey, error)
	// CreateDataKey stores k unless a key for (account, category) exists, in
	// which case the existing one is returned and k is discarded. It fails
	// with ConsentRequired unless the category's latest consent event is "on"
	// with Seq == k.Epoch, and with ErrNoKEK (Conflict) unless the KEK
	// version k.Key.Wrapper is stored, both checked in the same
	// transaction: a concurrent DeleteKEK of that version either fails (the
	// key is seen) or makes this call fail, never both succeed.
	CreateDataKey(ctx context.Context, k DataKey) (DataKey, error)

	// DataKeysWrappedBefore lists up to limit data keys whose Key.Wrapper
	// (the KEK version) is below kekVersion, ordered by account then
	// category.
	DataKeysWrappedBefore(ctx context.Context, kekVersion int64, limit int) ([]DataKey, error)
	// CountDataKeys counts the data keys by the KEK version that wraps them.
	CountDataKeys(ctx context.Context) (map[int64]int, error)
	// RewrapDataKeys applies each rewrap whose stored key still has the
	// given Epoch and OldWrapper (others are skipped: the key was destroyed
	// or changed meanwhile), in one transaction, and returns how many were
	// applied.
	RewrapDataKeys(ctx context.Context, rewraps []Rewrap) (int, error)
	// DeleteKEK removes a KEK version. It fails with Conflict if any data
	// key is still wrapped by it, checked in the same transaction and
	// atomically with CreateDataKey, and is not an error if it is absent.
	DeleteKEK(ctx context.Context, version int64) error
}

// ErrNoKEK is the refusal of a data key wrapped by a KEK version that is
// not stored (retired by a rotation the caller has not seen yet): reload
// the KEK versions and wrap the key again under the current one.
var ErrNoKEK = candor.E(candor.Conflict, "the region key version that wraps this data key is no longer stored")

// Feed keeps each account's sealed records as a change feed.
type Feed interface {
	// ApplyChanges applies sealed changes to (account, category) in one
	// transaction. It first checks, in that transaction, that the latest
	// consent event of the category is "on" and has Seq == epoch: if the
	// category is off it fails with ConsentRequired, if it is on under
	// another epoch with Conflict, and nothing is written. Then each change
	// is applied only if the stored version equals its BaseVersion (0 for a
	// record that does not exist); otherwise its Result reports the current
	// record. Applied changes get consecutive feed Seqs, in order.
	// rec is appended in the same transaction, unless it fails.
	ApplyChanges(ctx context.Context, rec AuditRecord, account candor.AccountID, c candor.Category, epoch int64, changes []Change) ([]Result, error)
	// Changes returns up to limit records of (account, category) with
	// Seq > since, by Seq ascending, deletions included, and appends rec
	// in the same transaction. It first checks, in that transaction, that
	// the category is on under epoch, failing as ApplyChanges does.
	Changes(ctx context.Context, rec AuditRecord, account candor.AccountID, c candor.Category, epoch, since int64, limit int) ([]Record, error)
	// PurgedSeq is the highest feed Seq of a deletion record purged from
	// the account's feed by retention (0 if none): a cursor below it may
	// have missed a deletion. 0 for an unknown account.
	PurgedSeq(ctx context.Context, account candor.AccountID) (int64, error)
	// CountRecords counts the live (not deleted) records of (account, category).
	CountRecords(ctx context.Context, account candor.AccountID, c candor.Category) (int, error)
	// Usage sums up the records of (account, category) in one aggregate
	// query over the account's rows of the category, without reading
	// their ciphertext: the live records, their ciphertext bytes, and the
	// time of the last change (deletions included; zero if none). Zero for
	// an unknown account.
	Usage(ctx context.Context, account candor.AccountID, c candor.Category) (Usage, error)
}

// Usage is what an account keeps in one category.
type Usage struct {
	Records    int64
	Bytes      int64
	LastChange time.Time
}

// Entry is a directory entry: which region an account lives in, and the
// keyed hash of its login handle. It holds nothing personal.
type Entry struct {
	Account candor.AccountID
	Handle  []byte
	Region  candor.RegionID
	Created time.Time
	// Moving is the region the account is being migrated to, if any: while
	// it is set, the account's data is not served (see Moves).
	Moving candor.RegionID
}

// Session is a device session. Only the SHA-256 of its token is stored.
type Session struct {
	TokenHash []byte
	Account   candor.AccountID
	Device    candor.DeviceID
	Created   time.Time
	Expires   time.Time
}

// Attempts counts failed logins for one handle within a window.
type Attempts struct {
	Failures int
	First    time.Time
	Last     time.Time
}

// Staff is a staff identity. Only the SHA-256 of its token is stored.
type Staff struct {
	ID        string
	Name      string
	Roles     []string
	TokenHash []byte
	Created   time.Time
	// Revoked is when the identity was revoked; zero while it is active.
	Revoked time.Time
}

// Custody says how one version of the root key is held: split into Shares
// shares of which Threshold rebuild it. ShareHashes holds a hash of each
// share (in share order), so that an offered share can be recognised before
// the threshold is reached; a share is high-entropy, so its hash reveals
// nothing usable.
type Custody struct {
	RootVersion int64
	Shares      int
	Threshold   int
	ShareHashes [][]byte
	Created     time.Time
}

// Directory is the global store: account → home region, handle → account,
// sessions, login throttling, staff identities, the custody of the root key
// and wrapped system secrets. It is the sum of named roles; each consumer
// owns the narrower interface it needs.
type Directory interface {
	AuditLog
	Entries
	Sessions
	Logins
	RootKeys
	ShredSecrets
	Identities
	Approvals
	StaffPasskeys
	Numbers
	Moves
	Quotas
	Verifications
	MigrationJobs

	Close() error
}

// Entries maps accounts to their home regions and login handles.
type Entries interface {
	// CreateEntry stores an entry; Conflict if the account or the handle
	// exists.
	CreateEntry(ctx context.Context, e Entry) error
	// EntryByHandle returns the entry for a handle; NotFound if none.
	EntryByHandle(ctx context.Context, handle []byte) (Entry, error)
	// Entry returns the entry of an account; NotFound if none.
	Entry(ctx context.Context, account candor.AccountID) (Entry, error)
	// DeleteEntry removes an account's entry, all its sessions and all its
	// shred secrets, and appends rec, in one transaction.
	DeleteEntry(ctx context.Context, rec AuditRecord, account candor.AccountID) error
}

// Sessions keeps device sessions, by the hash of their token.
type Sessions interface {
	// CreateSession stores a session.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session with this token hash; NotFound if none.
	// It does not check expiry: callers compare Expires with their clock.
	Session(ctx context.Context, tokenHash []byte) (Session, error)
	// DeleteSession revokes one session; absent is not an error.
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// DeleteDeviceSessions revokes every session of one device.
	DeleteDeviceSessions(ctx context.Context, account candor.AccountID, device candor.DeviceID) error
	// SignedInDevices lists the devices of an account that hold a session
	// that has not expired at now (each once).
	SignedInDevices(ctx context.Context, account candor.AccountID, now time.Time) ([]candor.DeviceID, error)
	// DeleteExpiredSessions removes sessions that expired before now and
	// reports how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// Logins counts failed logins per handle, for throttling.
type Logins interface {
	// LoginFailed records a failed login for handle at now and returns the
	// attempts so far. A window older than window restarts at one failure.
	LoginFailed(ctx context.Context, handle []byte, now time.Time, window time.Duration) (Attempts, error)
	// LoginAttempts returns the recorded failures (zero if none).
	LoginAttempts(ctx context.Context, handle []byte) (Attempts, error)
	// LoginSucceeded clears the failures of handle.
	LoginSucceeded(ctx context.Context, handle []byte) error
}

// RootKeys keeps the custody of the root key and the system secrets it
// wraps (packages custody and keyring).
type RootKeys interface {
	// SystemKey returns a named system secret, wrapped by the root key;
	// NotFound if none.
	SystemKey(ctx context.Context, name string) (WrappedKey, error)
	// PutSystemKey stores a named system secret unless one exists, in which
	// case the stored one is returned and k is discarded.
	PutSystemKey(ctx context.Context, name string, k WrappedKey) (WrappedKey, error)

	// InitRoot records the first root key's custody and its system keys
	// (each stored under its name as by PutSystemKey) in one transaction.
	// It fails with Conflict, writing nothing, if any custody is recorded
	// or any of the named system keys exists: a server is initialised once.
	// rec is appended in the same transaction.
	InitRoot(ctx context.Context, rec AuditRecord, c Custody, keys map[string]WrappedKey) error
	// Custody returns the custody of the latest root version; NotFound
	// before InitRoot.
	Custody(ctx context.Context) (Custody, error)
	// Rekey records the custody of a new root version and replaces the
	// named system keys (insert or update), in one transaction. It fails
	// with Conflict, writing nothing, unless c.RootVersion is exactly the
	// latest recorded version plus one.
	// rec is appended in the same transaction.
	Rekey(ctx context.Context, rec AuditRecord, c Custody, keys map[string]WrappedKey) error
}

// ShredSecrets keeps the directory's half of each data key
// (crypto-shredding).
type ShredSecrets interface {
	// PutShredSecret stores s unless a secret for (Account, Category, Epoch)
	// exists, in which case the stored one is returned and s is discarded.
	PutShredSecret(ctx context.Context, s ShredSecret) (ShredSecret, error)
	// ShredSecret returns the secret of (account, category, epoch); NotFound
	// if none.
	ShredSecret(ctx context.Context, account candor.AccountID, c candor.Category, epoch int64) (ShredSecret, error)
	// DeleteShredSecrets deletes the secrets of (account, category) for
	// every epoch except keep (0 keeps none) and reports how many.
	DeleteShredSecrets(ctx context.Context, account candor.AccountID, c candor.Category, keep int64) (int, error)
	// ShredSecretsWrappedBefore returns up to limit secrets whose Wrapper
	// (the erasure period they are wrapped under) is below wrapper, the
	// lowest first. limit must be positive.
	ShredSecretsWrappedBefore(ctx context.Context, wrapper int64, limit int) ([]ShredSecret, error)
	// RewrapShredSecrets applies, in one transaction, each rewrap whose
	// stored secret still has OldWrapper, replacing its version, wrapper
	// and wrapped bytes, and reports how many it applied.
	RewrapShredSecrets(ctx context.Context, rewraps []Rewrap) (int, error)
}

// Identities keeps staff identities (package staff).
type Identities interface {
	// CreateStaff stores a staff identity and appends rec in the same
	// transaction; Conflict if the id or the token hash exists.
	CreateStaff(ctx context.Context, rec AuditRecord, s Staff) error
	// StaffByToken returns the identity with this token hash, revoked or
	// not; NotFound if none.
	StaffByToken(ctx context.Context, tokenHash []byte) (Staff, error)
	// ListStaff lists every identity, oldest first.
	ListStaff(ctx context.Context) ([]Staff, error)
	// RevokeStaff marks an identity revoked at the given time and appends
	// rec in the same transaction; NotFound if none. Revoking a revoked
	// identity keeps the first time.
	RevokeStaff(ctx context.Context, rec AuditRecord, id string, at time.Time) error
}
