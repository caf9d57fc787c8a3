package store

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
)

// MigrationJob is a region migration job as the directory keeps it: every
// instance sees it, and when the instance running it stops, another
// carries on with it. It holds ids, regions and counts, nothing personal.
type MigrationJob struct {
	ID string
	// By is who started the job, as the audit log names actors
	// ("staff:<id>"); the job's moves are logged under it.
	By string
	// What was asked: one account, a country's accounts, or the moves
	// that stopped (Resume). To is the target region ("" to resume).
	To      candor.RegionID
	Country string
	Account candor.AccountID
	Resume  bool
	// Total accounts to move and Done so far; Moved lists the first
	// MaxJobMoves of them, in order.
	Total int
	Done  int
	Moved []JobMove
	// Error says why the job stopped, if it failed.
	Error    string
	Started  time.Time
	Finished time.Time // zero while the job is unfinished
	// Holder is the instance that runs the job, until Lease: past it, any
	// instance may take the job over.
	Holder string
	Lease  time.Time
}

// JobMove is what a job did to one account.
type JobMove struct {
	Account candor.AccountID
	From    candor.RegionID
	To      candor.RegionID
	Records int
	Keys    int
	Blobs   int
	Bytes   int64
	Already bool // it was home already; leftovers were cleaned
}

// MaxJobMoves bounds the moves a job lists; Done counts them all.
const MaxJobMoves = 1000

// MigrationJobs keeps the region migration jobs in the directory, shared
// by every instance, with a lease: the instance that holds a job's lease
// runs it and renews the lease; once the lease expires, any instance may
// take the job over. At most one job is unfinished at a time.
//
// Every condition below is checked in the transaction that writes, so two
// instances never both hold a job. Leases are compared with the callers'
// clocks (now): instances' clocks must agree to well within a lease.
type MigrationJobs interface {
	// CreateMigrationJob stores j, unfinished, held by j.Holder until
	// j.Lease, with no moves. Conflict, writing nothing, if a job is
	// unfinished (whoever holds it, whether or not its lease expired: a
	// job whose instance stopped is taken over, not replaced) or j.ID
	// exists; Invalid without an id or a holder.
	CreateMigrationJob(ctx context.Context, j MigrationJob) error
	// MigrationJob returns a job with its moves; NotFound if none.
	MigrationJob(ctx context.Context, id string) (MigrationJob, error)
	// UnfinishedMigrationJob returns the unfinished job with its moves;
	// NotFound if every job is finished.
	UnfinishedMigrationJob(ctx context.Context) (MigrationJob, error)
	// RenewMigrationLease extends holder's lease of job id to until. It
	// fails with Conflict, changing nothing, unless the job is unfinished
	// and holder holds it with a lease that has not expired at now: the
	// lease is lost and the caller must stop working on the job. NotFound
	// if no such job.
	RenewMigrationLease(ctx context.Context, id, holder string, now, until time.Time) error
	// TakeOverMigrationJob makes holder the holder of the unfinished job,
	// until until, provided its lease expired at now, and returns the job
	// as taken. It is a compare-and-set: of instances that try at once,
	// one wins and the others get Conflict. Conflict too if the lease has
	// not expired; NotFound if no job is unfinished.
	TakeOverMigrationJob(ctx context.Context, holder string, now, until time.Time) (MigrationJob, error)
	// RecordMigrationProgress sets job id's Total and Done and appends
	// moved to its moves (those past MaxJobMoves are not kept), in one
	// transaction, under the condition of RenewMigrationLease (else
	// Conflict or NotFound, nothing written).
	RecordMigrationProgress(ctx context.Context, id, holder string, now time.Time, total, done int, moved []JobMove) error
	// FinishMigrationJob marks job id finished at now, with errMsg as its
	// Error ("" for success), under the condition of RenewMigrationLease.
	FinishMigrationJob(ctx context.Context, id, holder string, now time.Time, errMsg string) error
}
