package region_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
)

// testLease is short, so that a takeover comes quickly.
var testLease = region.Lease{Renew: 40 * time.Millisecond, Expiry: 300 * time.Millisecond}

// instance is one server instance's migration jobs over the world's
// shared directory and stores; jobs stands for its link to the directory.
func (w *world) instance(t *testing.T, jobs store.MigrationJobs) *region.Migrations {
	t.Helper()
	mig := region.NewMigrator(w.dir, w.regions, w.blobs, w.keys, w.logs)
	mig.Settle = 60 * time.Millisecond // each move takes a while: the job can be stopped mid-way
	m := region.NewMigrations(mig, jobs, slog.New(slog.NewTextHandler(io.Discard, nil)), testLease)
	t.Cleanup(m.Stop)
	return m
}

type seeded struct {
	account candor.AccountID
	key     seal.Key
	plain   [][]byte
}

func (w *world) seedMany(t *testing.T, n int) []seeded {
	t.Helper()
	var out []seeded
	for range n {
		a, key, plain := w.seed(t, 4)
		out = append(out, seeded{a, key, plain})
	}
	return out
}

// waitJob polls the job from the directory until done says so.
func waitJob(t *testing.T, m *region.Migrations, id string, what string, done func(api.Migration) bool) api.Migration {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		job, err := m.Migration(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if done(job) {
			return job
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %+v", what, job)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// takeOver calls b's TakeOver, as its upkeep loop does at every pass,
// until it takes the job; a, the former holder, must have stopped by then.
func takeOver(t *testing.T, a, b *region.Migrations, lost time.Time) {
	t.Helper()
	for {
		took, err := b.TakeOver(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if took {
			if a.Holds() != "" {
				t.Fatal("B took the job over while A still runs it")
			}
			if since := time.Since(lost); since < testLease.Expiry-testLease.Renew {
				t.Fatalf("B took the job over %v after A's last renewal, before the lease expired", since)
			}
			return
		}
		if time.Since(lost) > 20*time.Second {
			t.Fatal("B never took the job over")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantAllMoved checks that the job finished, listing every account once,
// and that every account lives in sg, readable, and nothing of it is left
// in in.
func (w *world) wantAllMoved(t *testing.T, job api.Migration, accounts []seeded) {
	t.Helper()
	if job.Error != "" || job.Done != len(accounts) || job.Total != len(accounts) || job.Holder != "" {
		t.Fatalf("finished job: %+v", job)
	}
	var listed []string
	for _, mv := range job.Moved {
		listed = append(listed, mv.Account)
	}
	slices.Sort(listed)
	var want []string
	for _, s := range accounts {
		want = append(want, string(s.account))
	}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("the job lists %v, want each account once: %v", listed, want)
	}
	ctx := context.Background()
	for _, s := range accounts {
		e, err := w.dir.Entry(ctx, s.account)
		if err != nil {
			t.Fatal(err)
		}
		if e.Region != "sg" || e.Moving != "" {
			t.Fatalf("account %s: in %s moving to %q", s.account, e.Region, e.Moving)
		}
		got := w.readAll(t, s.account)
		if len(got) != len(s.plain) {
			t.Fatalf("account %s: %d records readable, want %d", s.account, len(got), len(s.plain))
		}
		if _, err := w.regions["in"].Account(ctx, s.account); !candor.Is(err, candor.NotFound) {
			t.Fatalf("account %s still in the source: %v", s.account, err)
		}
	}
	moving, err := w.dir.MovingAccounts(ctx)
	if err != nil || len(moving) != 0 {
		t.Fatalf("accounts left moving: %v %v", moving, err)
	}
}

// Instance A starts a country's migration and dies mid-way; instance B,
// over the same directory, takes the job over once A's lease expires and
// finishes it. Every account is moved once and readable.
func TestMigrationTakeOver(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	accounts := w.seedMany(t, 6)
	a, b := w.instance(t, w.dir), w.instance(t, w.dir)

	job, err := a.StartMigration(ctx, "staff:stf_a", api.MigrateRequest{Country: "IN", To: "sg"})
	if err != nil {
		t.Fatal(err)
	}
	if job.Holder != a.Instance() {
		t.Fatalf("a new job is held by %q, want A %q", job.Holder, a.Instance())
	}
	if cur, ok := a.Current(); !ok || cur.ID != job.ID {
		t.Fatalf("A's current job: %+v %v", cur, ok)
	}
	if _, ok := b.Current(); ok {
		t.Fatal("B reports as its own a job A runs")
	}
	// One job at a time, across instances.
	if _, err := b.StartMigration(ctx, "staff:stf_b", api.MigrateRequest{Account: string(accounts[0].account), To: "sg"}); !candor.Is(err, candor.Conflict) {
		t.Fatalf("B starts a job while A runs one: %v, want Conflict", err)
	}
	waitJob(t, b, job.ID, "A to move two accounts", func(j api.Migration) bool { return j.Done >= 2 })
	if took, err := b.TakeOver(ctx); took || err != nil {
		t.Fatalf("B takes over a job A holds: %v %v", took, err)
	}

	a.Stop() // A dies, perhaps in the middle of an account
	lost := time.Now()
	cur, err := b.Migration(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Finished != nil || cur.Holder != a.Instance() || cur.Done == len(accounts) {
		t.Fatalf("after A stopped: %+v", cur)
	}
	if _, ok := a.Current(); ok {
		t.Fatal("A reports a job it runs after it stopped")
	}
	takeOver(t, a, b, lost.Add(-testLease.Renew))
	done := waitJob(t, b, job.ID, "B to finish", func(j api.Migration) bool { return j.Finished != nil })
	w.wantAllMoved(t, done, accounts)
	if _, ok, err := b.Unfinished(ctx); ok || err != nil {
		t.Fatalf("a job is still current after it finished: %v %v", ok, err)
	}
}

// partitioned is an instance's link to the directory's jobs that can be
// cut: every call to renew the lease fails, as when the directory cannot
// be reached.
type partitioned struct {
	store.MigrationJobs
	cut atomic.Bool
}

func (p *partitioned) RenewMigrationLease(ctx context.Context, id, holder string, now, until time.Time) error {
	if p.cut.Load() {
		return candor.E(candor.Unavailable, "the directory cannot be reached")
	}
	return p.MigrationJobs.RenewMigrationLease(ctx, id, holder, now, until)
}

// An instance that cannot renew its lease stops before the lease expires;
// another takes the job over after it and finishes it. Two copies never
// run at once.
func TestMigrationLeaseLost(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	accounts := w.seedMany(t, 5)
	link := &partitioned{MigrationJobs: w.dir}
	a, b := w.instance(t, link), w.instance(t, w.dir)

	job, err := a.StartMigration(ctx, "staff:stf_a", api.MigrateRequest{Country: "IN", To: "sg"})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, b, job.ID, "A to move an account", func(j api.Migration) bool { return j.Done >= 1 })
	link.cut.Store(true)
	lost := time.Now().Add(-testLease.Renew) // A's last renewal, at the earliest

	deadline := time.Now().Add(testLease.Expiry)
	for a.Holds() != "" {
		if time.Now().After(deadline) {
			t.Fatal("A still runs the job after its lease expired")
		}
		time.Sleep(2 * time.Millisecond)
	}
	cur, err := b.Migration(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Finished != nil || cur.Error != "" {
		t.Fatalf("A, having lost its lease, ended the job: %+v", cur)
	}
	takeOver(t, a, b, lost)
	done := waitJob(t, b, job.ID, "B to finish", func(j api.Migration) bool { return j.Finished != nil })
	w.wantAllMoved(t, done, accounts)

	// A, reconnected, cannot take back or record anything in the finished job.
	link.cut.Store(false)
	if took, err := a.TakeOver(ctx); took || err != nil {
		t.Fatalf("A takes over a finished job: %v %v", took, err)
	}
}

// Jobs are in the directory: another instance reads them, and one that
// finishes frees the way for the next, on any instance.
func TestMigrationSharedJobs(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	accounts := w.seedMany(t, 1)
	a, b := w.instance(t, w.dir), w.instance(t, w.dir)
	job, err := a.StartMigration(ctx, "staff:stf_a", api.MigrateRequest{Account: string(accounts[0].account), To: "sg"})
	if err != nil {
		t.Fatal(err)
	}
	done := waitJob(t, b, job.ID, "the job to finish", func(j api.Migration) bool { return j.Finished != nil })
	w.wantAllMoved(t, done, accounts)
	if _, err := b.Migration(ctx, candor.NewID("mig")); !candor.Is(err, candor.NotFound) {
		t.Fatalf("an unknown job: %v", err)
	}
	next, err := b.StartMigration(ctx, "staff:stf_b", api.MigrateRequest{Account: string(accounts[0].account), To: "sg"})
	if err != nil {
		t.Fatal(err)
	}
	again := waitJob(t, a, next.ID, "the second job to finish", func(j api.Migration) bool { return j.Finished != nil })
	if again.Error != "" || len(again.Moved) != 1 || !again.Moved[0].Already {
		t.Fatalf("a second move of an account home already: %+v", again)
	}
}

// Instance B moves an account to sg with a stale cache of sg's key
// versions: A rotated sg's key and retired the version B still has as
// current. The target refuses the data key B re-wrapped under the retired
// version; B reloads the versions and copies again, and the account reads
// after the move, by a fresh instance too.
func TestMoveAfterRotationElsewhere(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a, _, plain := w.seed(t, 5)
	b := w.env.Another(t)
	if v := b.KeyVersions()["sg"]; v != 1 {
		t.Fatalf("B's sg key version %d, want 1", v)
	}
	if _, err := w.keys.StartRotation(ctx, "sg"); err != nil {
		t.Fatal(err)
	}
	if _, left, err := w.keys.RewrapBatch(ctx, "sg", 100); err != nil || left != 0 {
		t.Fatalf("rotation of sg: %d left, %v", left, err)
	}
	if keks, _ := w.regions["sg"].KEKs(ctx); len(keks) != 1 || keks[0].Version != 2 {
		t.Fatalf("sg's key versions after the rotation: %+v", keks)
	}

	mig := region.NewMigrator(w.dir, w.regions, w.blobs, b, w.logs)
	if _, err := mig.MoveAccount(ctx, a, "sg"); err != nil {
		t.Fatalf("B moves the account with a stale cache: %v", err)
	}
	dk, err := w.regions["sg"].DataKey(ctx, a, candor.Notes)
	if err != nil || dk.Key.Wrapper != 2 {
		t.Fatalf("the moved data key is wrapped by version %d (%v), want 2", dk.Key.Wrapper, err)
	}
	w.keys = w.env.Another(t) // a fresh instance reads it
	if got := w.readAll(t, a); len(got) != len(plain) {
		t.Fatalf("%d records read after the move, want %d", len(got), len(plain))
	}
}
