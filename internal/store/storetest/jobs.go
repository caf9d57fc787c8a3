package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Region migration jobs with a lease (store.MigrationJobs): what makes one
// instance, and only one, run a job, and another carry on when it stops.

func newJob(holder string, now time.Time) store.MigrationJob {
	return store.MigrationJob{ID: newID("mig"), By: "staff:" + newID("stf"), To: "sg", Country: "IN",
		Started: testTime, Holder: holder, Lease: now.Add(20 * time.Second)}
}

func wantJob(t *testing.T, what string, got, want store.MigrationJob) {
	t.Helper()
	if got.ID != want.ID || got.By != want.By || got.To != want.To || got.Country != want.Country ||
		got.Account != want.Account || got.Resume != want.Resume || got.Total != want.Total || got.Done != want.Done ||
		got.Error != want.Error || got.Holder != want.Holder || len(got.Moved) != len(want.Moved) ||
		got.Finished.IsZero() != want.Finished.IsZero() {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	wantTime(t, what+": Started", got.Started, want.Started)
	wantTime(t, what+": Lease", got.Lease, want.Lease)
	for i := range want.Moved {
		if got.Moved[i] != want.Moved[i] {
			t.Fatalf("%s: move %d = %+v, want %+v", what, i, got.Moved[i], want.Moved[i])
		}
	}
}

func testMigrationJobs(t *testing.T, d store.Directory) {
	ctx := t.Context()
	now := time.Now()
	_, err := d.UnfinishedMigrationJob(ctx)
	wantKind(t, err, candor.NotFound)
	_, err = d.MigrationJob(ctx, newID("mig"))
	wantKind(t, err, candor.NotFound)
	wantKind(t, d.CreateMigrationJob(ctx, store.MigrationJob{ID: newID("mig")}), candor.Invalid)

	j := newJob("ins_a", now)
	must(t, d.CreateMigrationJob(ctx, j))
	got, err := d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "MigrationJob", got, j)
	got, err = d.UnfinishedMigrationJob(ctx)
	must(t, err)
	wantJob(t, "UnfinishedMigrationJob", got, j)

	// One unfinished job at a time, whoever asks, its lease expired or not.
	other := newJob("ins_b", now)
	other.Account, other.Country = candor.AccountID(newID("acc")), ""
	wantKind(t, d.CreateMigrationJob(ctx, other), candor.Conflict)
	wantKind(t, d.CreateMigrationJob(ctx, j), candor.Conflict)

	// The holder renews; nobody else can, nor the holder once expired.
	j.Lease = now.Add(30 * time.Second)
	must(t, d.RenewMigrationLease(ctx, j.ID, "ins_a", now.Add(time.Second), j.Lease))
	wantKind(t, d.RenewMigrationLease(ctx, j.ID, "ins_b", now.Add(time.Second), now.Add(time.Hour)), candor.Conflict)
	wantKind(t, d.RenewMigrationLease(ctx, j.ID, "ins_a", j.Lease, j.Lease.Add(time.Minute)), candor.Conflict)
	wantKind(t, d.RenewMigrationLease(ctx, newID("mig"), "ins_a", now, now), candor.NotFound)
	got, err = d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "after renewals", got, j)

	// Progress, from the holder only.
	moves := []store.JobMove{
		{Account: candor.AccountID(newID("acc")), From: "in", To: "sg", Records: 4, Keys: 2, Blobs: 3, Bytes: 5001266},
		{Account: candor.AccountID(newID("acc")), From: "sg", To: "sg", Already: true},
	}
	must(t, d.RecordMigrationProgress(ctx, j.ID, "ins_a", now, 5, 0, nil))
	must(t, d.RecordMigrationProgress(ctx, j.ID, "ins_a", now, 5, 2, moves))
	wantKind(t, d.RecordMigrationProgress(ctx, j.ID, "ins_b", now, 5, 3, moves[:1]), candor.Conflict)
	wantKind(t, d.RecordMigrationProgress(ctx, j.ID, "ins_a", j.Lease, 5, 3, moves[:1]), candor.Conflict)
	j.Total, j.Done, j.Moved = 5, 2, moves
	got, err = d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "after progress", got, j)

	// No takeover while the lease runs.
	_, err = d.TakeOverMigrationJob(ctx, "ins_b", j.Lease.Add(-time.Millisecond), j.Lease.Add(time.Minute))
	wantKind(t, err, candor.Conflict)
	got, err = d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "after a refused takeover", got, j)

	// Once it expires, another instance takes the job, progress and all;
	// the former holder can no longer renew, record or finish it.
	later := j.Lease.Add(time.Second)
	taken, err := d.TakeOverMigrationJob(ctx, "ins_b", later, later.Add(20*time.Second))
	must(t, err)
	j.Holder, j.Lease = "ins_b", later.Add(20*time.Second)
	wantJob(t, "TakeOverMigrationJob", taken, j)
	wantKind(t, d.RenewMigrationLease(ctx, j.ID, "ins_a", later, later.Add(time.Hour)), candor.Conflict)
	wantKind(t, d.RecordMigrationProgress(ctx, j.ID, "ins_a", later, 5, 3, nil), candor.Conflict)
	wantKind(t, d.FinishMigrationJob(ctx, j.ID, "ins_a", later, ""), candor.Conflict)
	_, err = d.TakeOverMigrationJob(ctx, "ins_c", later, later.Add(time.Minute))
	wantKind(t, err, candor.Conflict)

	must(t, d.RecordMigrationProgress(ctx, j.ID, "ins_b", later, 5, 5, nil))
	must(t, d.FinishMigrationJob(ctx, j.ID, "ins_b", later, "the account kept changing during the move: run it again"))
	j.Done, j.Error, j.Finished = 5, "the account kept changing during the move: run it again", later
	got, err = d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "finished", got, j)
	wantTime(t, "Finished", got.Finished, later)
	wantKind(t, d.RenewMigrationLease(ctx, j.ID, "ins_b", later, later.Add(time.Second)), candor.Conflict)
	wantKind(t, d.FinishMigrationJob(ctx, j.ID, "ins_b", later, ""), candor.Conflict)
	_, err = d.UnfinishedMigrationJob(ctx)
	wantKind(t, err, candor.NotFound)
	_, err = d.TakeOverMigrationJob(ctx, "ins_c", later.Add(time.Hour), later.Add(2*time.Hour))
	wantKind(t, err, candor.NotFound)

	// The next job may start; the finished one stays readable.
	other.Resume, other.Account, other.To = true, "", ""
	must(t, d.CreateMigrationJob(ctx, other))
	got, err = d.UnfinishedMigrationJob(ctx)
	must(t, err)
	wantJob(t, "the next job", got, other)
	got, err = d.MigrationJob(ctx, j.ID)
	must(t, err)
	wantJob(t, "the finished job", got, j)
}

// testMigrationJobMovesBounded checks that a job lists at most
// MaxJobMoves moves, in order, while Done counts them all.
func testMigrationJobMovesBounded(t *testing.T, d store.Directory) {
	ctx := t.Context()
	now := time.Now()
	j := newJob("ins_a", now)
	must(t, d.CreateMigrationJob(ctx, j))
	var all []store.JobMove
	for i := range store.MaxJobMoves + 10 {
		all = append(all, store.JobMove{Account: candor.AccountID(fmt.Sprintf("acc_%06d", i)), From: "in", To: "sg", Records: i})
	}
	for i := 0; i < len(all); i += 250 {
		part := all[i:min(i+250, len(all))]
		must(t, d.RecordMigrationProgress(ctx, j.ID, "ins_a", now, len(all), i+len(part), part))
	}
	got, err := d.MigrationJob(ctx, j.ID)
	must(t, err)
	if got.Done != len(all) || !slices.Equal(got.Moved, all[:store.MaxJobMoves]) {
		t.Fatalf("done %d with %d moves listed, want %d with the first %d", got.Done, len(got.Moved), len(all), store.MaxJobMoves)
	}
}

// testConcurrentTakeOver races instances for a job whose lease expired:
// exactly one wins and holds it; the others get Conflict. Concurrent
// starts likewise leave one unfinished job.
func testConcurrentTakeOver(t *testing.T, d store.Directory) {
	ctx := t.Context()
	now := time.Now()
	const contenders = 6
	starts := make([]error, contenders)
	jobs := make([]store.MigrationJob, contenders)
	var wg sync.WaitGroup
	for i := range contenders {
		jobs[i] = newJob(fmt.Sprintf("ins_%d", i), now)
		jobs[i].Lease = now.Add(-time.Second) // its instance died at once
		wg.Go(func() { starts[i] = d.CreateMigrationJob(ctx, jobs[i]) })
	}
	wg.Wait()
	started := 0
	for i, err := range starts {
		switch {
		case err == nil:
			started++
		case !candor.Is(err, candor.Conflict):
			t.Fatalf("concurrent CreateMigrationJob %d: %v, want nil or Conflict", i, err)
		}
	}
	if started != 1 {
		t.Fatalf("%d concurrent starts succeeded, want 1", started)
	}

	for round := range 3 {
		at := now.Add(time.Duration(round) * time.Minute)
		errs := make([]error, contenders)
		taken := make([]store.MigrationJob, contenders)
		for i := range contenders {
			wg.Go(func() {
				taken[i], errs[i] = d.TakeOverMigrationJob(ctx, fmt.Sprintf("ins_r%d_%d", round, i), at, at.Add(30*time.Second))
			})
		}
		wg.Wait()
		var won []int
		for i, err := range errs {
			switch {
			case err == nil:
				won = append(won, i)
			case !candor.Is(err, candor.Conflict):
				t.Fatalf("round %d: concurrent TakeOverMigrationJob %d: %v, want nil or Conflict", round, i, err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d concurrent takeovers succeeded (%v), want 1", round, len(won), won)
		}
		winner := fmt.Sprintf("ins_r%d_%d", round, won[0])
		got, err := d.UnfinishedMigrationJob(ctx)
		must(t, err)
		if got.Holder != winner || taken[won[0]].Holder != winner {
			t.Fatalf("round %d: holder %q (returned %q), want %q", round, got.Holder, taken[won[0]].Holder, winner)
		}
		for i := range contenders {
			if i != won[0] {
				wantKind(t, d.RenewMigrationLease(ctx, got.ID, fmt.Sprintf("ins_r%d_%d", round, i), at, at.Add(time.Hour)), candor.Conflict)
			}
		}
		must(t, d.RenewMigrationLease(ctx, got.ID, winner, at, at.Add(30*time.Second)))
	}
}
