package store

import (
	"context"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
)

// AuditRecord is the record of one access, to append to a tamper-evident
// log: Data is its canonical encoding (made by package audit; the store
// never reads it) and Account the pseudonym of the account it concerns (nil
// for none), kept beside it so an owner's entries can be found.
//
// Every store method that is an access to personal data, consent, grants,
// staff identities or the root key's custody, and every sign-in, device
// revocation and account deletion, takes its AuditRecord as an argument
// and appends it to its own log in the same transaction as the access, so
// the access and its record commit together or not at all. A zero record
// (no Data) is refused with ErrUnaudited before anything is read or
// written: an access path cannot be added without saying what it logs.
type AuditRecord struct {
	Account []byte
	Data    []byte
}

// Zero reports whether r is the zero record, which no store method takes.
func (r AuditRecord) Zero() bool { return len(r.Data) == 0 }

// ErrUnaudited is the refusal of an access offered without its audit
// record: a fault of the caller, never of the person asking.
var ErrUnaudited = candor.E(candor.Internal, "an access without its audit record was refused")

// AuditEntry is a record as stored, with its position in the log (from 0).
type AuditEntry struct {
	Index   int64
	Account []byte
	Data    []byte
}

// Checkpoint is a signed tree head of a log: Note is a signed note (package
// golang.org/x/mod/sumdb/note) whose text is tlog.FormatTree of (Size,
// Hash).
type Checkpoint struct {
	Size    int64
	Hash    tlog.Hash
	Note    []byte
	Created time.Time
}

// AuditLog is a tamper-evident, append-only log (a tlog Merkle tree) kept in
// one database. Every region store and the directory keep one.
//
// The store methods that are accesses take their AuditRecord as an argument
// (see AuditRecord) and append it in their own transaction, running even a
// read in one; a method that fails appends nothing. AppendAudit appends on
// its own, for refusals and events that are not a store access. Appends
// are serialised per log, so indexes are dense and the tree is always
// consistent.
type AuditLog interface {
	// AppendAudit appends records in a transaction of its own and returns
	// their indexes.
	AppendAudit(ctx context.Context, recs ...AuditRecord) ([]int64, error)
	// AuditSize is the number of records in the log.
	AuditSize(ctx context.Context) (int64, error)
	// AuditEntries returns the records with from <= Index < to, in order.
	AuditEntries(ctx context.Context, from, to int64) ([]AuditEntry, error)
	// AuditEntriesFor returns up to limit records of one account pseudonym
	// with Index > after, in order.
	AuditEntriesFor(ctx context.Context, account []byte, after int64, limit int) ([]AuditEntry, error)
	// ReadAuditHashes returns the stored tree hashes at the given storage
	// indexes (tlog.StoredHashIndex), as tlog.HashReader does; NotFound if
	// one is missing.
	ReadAuditHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// PutCheckpoint stores a checkpoint unless one of the same Size exists
	// (then it is not an error and the stored one stays).
	PutCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints lists the stored checkpoints by Size ascending.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// AccessRequest is a staff member's request to read an account's data.
// It becomes a grant once enough approvers other than the requester approve
// it (and the owner, when OwnerApproval is set); the grant lasts Duration
// from the approval that completed it, unless revoked.
type AccessRequest struct {
	ID         string
	Requester  string // staff id
	Account    candor.AccountID
	Region     candor.RegionID
	Categories []candor.Category
	Reason     string
	Duration   time.Duration
	Created    time.Time
	// OwnerApproval says the owner must approve too; OwnerApproved is when
	// they did (zero until then).
	OwnerApproval bool
	OwnerApproved time.Time
	Revoked       time.Time // zero unless revoked
	// RefusedByOwner says the account's owner revoked it (refused it).
	RefusedByOwner bool
}

// Approval is one approver's approval of a request.
type Approval struct {
	Request  string
	Approver string // staff id
	Time     time.Time
	// Method is how the approver proved themselves: ApprovedByToken (a
	// staff token) or ApprovedByPasskey (a fresh passkey assertion bound
	// to the request). Empty is stored as ApprovedByToken.
	Method string
}

// Approval methods.
const (
	ApprovedByToken   = "token"
	ApprovedByPasskey = "passkey"
)

// Approvals keeps access requests and their approvals (the directory).
type Approvals interface {
	// CreateAccessRequest stores a request; Conflict if the id exists.
	// Each method here that changes something appends rec in the same
	// transaction.
	CreateAccessRequest(ctx context.Context, rec AuditRecord, r AccessRequest) error
	// AccessRequest returns a request and its approvals (oldest first);
	// NotFound if none.
	AccessRequest(ctx context.Context, id string) (AccessRequest, []Approval, error)
	// AccessRequestsFor lists up to limit of an account's requests, newest
	// first; Invalid unless 1 <= limit <= 1000.
	AccessRequestsFor(ctx context.Context, account candor.AccountID, limit int) ([]AccessRequest, error)
	// AccessRequests lists up to limit requests of every account, newest
	// first.
	AccessRequests(ctx context.Context, limit int) ([]AccessRequest, error)
	// AddApproval records an approval; Conflict if this approver approved
	// this request already; NotFound if the request does not exist.
	AddApproval(ctx context.Context, rec AuditRecord, a Approval) error
	// ApproveAsOwner records the owner's approval (the first time kept).
	ApproveAsOwner(ctx context.Context, rec AuditRecord, id string, at time.Time) error
	// RevokeAccessRequest revokes a request (the first time kept); NotFound
	// if none.
	RevokeAccessRequest(ctx context.Context, rec AuditRecord, id string, at time.Time) error
	// RefuseAccessRequest revokes a request as its account's owner: like
	// RevokeAccessRequest, and marks it RefusedByOwner unless it was
	// revoked already. NotFound if none.
	RefuseAccessRequest(ctx context.Context, rec AuditRecord, id string, at time.Time) error
	// SetOwnerApproval sets whether staff access to an account needs its
	// owner's approval; OwnerApprovalRequired reads it (false by default).
	SetOwnerApproval(ctx context.Context, rec AuditRecord, account candor.AccountID, required bool) error
	OwnerApprovalRequired(ctx context.Context, account candor.AccountID) (bool, error)
}
