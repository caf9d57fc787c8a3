package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// Upload is a photo upload: in progress until Blob is set, then the record
// of a stored blob (the blob's id is the upload's id). The parts
// themselves are in the region's blob store; Hash is the keyed content
// hash the device computed, used to find a photo the account holds already.
type Upload struct {
	ID       string
	Account  candor.AccountID
	Category candor.Category
	Size     int64
	Hash     []byte
	Complete bool
	Created  time.Time
	Expires  time.Time // an upload not complete by then is abandoned
	// Shared is when de-duplication last gave this blob to another photo
	// record of the account (zero if never).
	Shared time.Time
}

// Uploads keeps the index of uploads and blobs of a region.
type Uploads interface {
	// CreateUpload stores an upload; Conflict if the id exists, NotFound if
	// the account does not.
	CreateUpload(ctx context.Context, u Upload) error
	// Upload returns an account's upload; NotFound if none (or another
	// account's).
	Upload(ctx context.Context, account candor.AccountID, id string) (Upload, error)
	// ExtendUpload moves an upload's expiry later, to expires (never
	// earlier), and appends rec (a part received) in the same transaction;
	// NotFound if none.
	ExtendUpload(ctx context.Context, rec AuditRecord, account candor.AccountID, id string, expires time.Time) error
	// ShareUpload records that de-duplication gave the upload's blob to
	// another photo record at (Shared moves later, never earlier); NotFound
	// if none.
	ShareUpload(ctx context.Context, account candor.AccountID, id string, at time.Time) error
	// CompleteUpload marks an upload complete and appends rec (the
	// upload of a photo) in the same transaction; NotFound if none.
	CompleteUpload(ctx context.Context, rec AuditRecord, account candor.AccountID, id string) error
	// OpenUpload returns an account's complete upload, for reading its
	// blob, and appends rec (the download) in the same transaction;
	// NotFound if none or not complete, and then nothing is appended.
	OpenUpload(ctx context.Context, rec AuditRecord, account candor.AccountID, id string) (Upload, error)
	// UploadByHash returns an account's complete upload of a category with
	// this keyed hash; NotFound if none.
	UploadByHash(ctx context.Context, account candor.AccountID, c candor.Category, hash []byte) (Upload, error)
	// UploadUsage sums up the complete uploads of (account, category) in
	// one aggregate query: how many, their sizes, and when the latest was
	// created (zero if none). Zero for an unknown account.
	UploadUsage(ctx context.Context, account candor.AccountID, c candor.Category) (Usage, error)
	// ExpiredUploads lists up to limit uploads not complete whose Expires is
	// before now.
	ExpiredUploads(ctx context.Context, now time.Time, limit int) ([]Upload, error)
	// DeleteUpload removes an upload's row and appends rec in the same
	// transaction; absent is not an error.
	DeleteUpload(ctx context.Context, rec AuditRecord, account candor.AccountID, id string) error
}
