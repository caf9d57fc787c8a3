package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/store"
)

// Lease says how an instance holds the migration job it runs: it renews
// the job's lease every Renew, for Expiry from then. An instance that
// stops renewing loses the job Expiry after its last renewal at most, and
// another takes it over.
type Lease struct {
	Renew  time.Duration // default 5 s
	Expiry time.Duration // default 20 s; more than Renew
}

// Default lease timings.
const (
	DefaultLeaseRenew  = 5 * time.Second
	DefaultLeaseExpiry = 20 * time.Second
)

// Migrations runs region migrations as background jobs kept in the
// directory, so that every instance sees them (POST
// /v1/operator/migrations, GET /v1/operator/migrations/{id} on any
// instance) and at most one runs at a time, across instances.
//
// The instance that starts a job holds its lease and runs it; it renews
// the lease every Lease.Renew and checks that it still holds it before
// each account, and it stops as soon as a renewal is refused or its lease
// runs out unrenewed. When an instance dies mid-job, its lease expires and
// the next TakeOver of any instance (the upkeep loop calls it) takes the
// job over, atomically, and carries on: moves are idempotent, and the
// accounts the job lists as moved are not moved again.
//
// Safe for concurrent use.
type Migrations struct {
	mig      *Migrator // used by one job at a time, its Actor set to the job's
	jobs     store.MigrationJobs
	log      *slog.Logger
	lease    Lease
	instance string // this instance's name as a job's holder

	ctx    context.Context // the lifetime of the jobs run here; Stop ends it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running string // the id of the job this instance runs, if any
}

// NewMigrations returns a job runner whose jobs run mig and are kept in
// jobs. A job that stops is logged to log. Zero Lease fields take their
// defaults.
func NewMigrations(mig *Migrator, jobs store.MigrationJobs, log *slog.Logger, lease Lease) *Migrations {
	if lease.Renew <= 0 {
		lease.Renew = DefaultLeaseRenew
	}
	if lease.Expiry <= lease.Renew {
		lease.Expiry = max(DefaultLeaseExpiry, 3*lease.Renew)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Migrations{mig: mig, jobs: jobs, log: log, lease: lease, instance: candor.NewID("ins"), ctx: ctx, cancel: cancel}
}

// Instance is the name this instance holds jobs under.
func (m *Migrations) Instance() string { return m.instance }

// Holds reports the id of the job this instance runs, if any.
func (m *Migrations) Holds() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// StartMigration starts moving one account or a country's accounts to a
// region, or resuming the moves that stopped, as a job run by by on this
// instance. It refuses a request that names none or several of these, and
// a job while another is unfinished on any instance (Conflict, from the
// directory). It returns at once; Migration follows the job.
func (m *Migrations) StartMigration(ctx context.Context, by string, req api.MigrateRequest) (api.Migration, error) {
	to := candor.RegionID(req.To)
	named := 0
	for _, set := range []bool{req.Account != "", req.Country != "", req.Resume} {
		if set {
			named++
		}
	}
	switch {
	case named != 1:
		return api.Migration{}, candor.E(candor.Invalid, "name either an account or a country to migrate, or resume the moves that stopped")
	case req.Resume && req.To != "":
		return api.Migration{}, candor.E(candor.Invalid, "a resumed move goes to the region it was moving to: leave out the target")
	case req.Country != "" && !countryCode.MatchString(req.Country):
		return api.Migration{}, candor.E(candor.Invalid, "a country is an ISO 3166 two-letter code such as IN")
	case req.Account != "" && !candor.ValidID(req.Account):
		return api.Migration{}, candor.E(candor.Invalid, "no such account")
	}
	if _, ok := m.mig.regions[to]; !ok && !req.Resume {
		return api.Migration{}, candor.Errorf(candor.NotFound, "no region %q", req.To)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running != "" {
		return api.Migration{}, candor.E(candor.Conflict, "a migration is running already: wait for it to finish")
	}
	if m.ctx.Err() != nil {
		return api.Migration{}, candor.E(candor.Unavailable, "the server is stopping")
	}
	now := time.Now().UTC()
	job := store.MigrationJob{ID: candor.NewID("mig"), By: by, To: to, Country: req.Country,
		Account: candor.AccountID(req.Account), Resume: req.Resume, Started: now,
		Holder: m.instance, Lease: now.Add(m.lease.Expiry)}
	if err := m.jobs.CreateMigrationJob(ctx, job); err != nil {
		return api.Migration{}, err
	}
	m.launch(job)
	return toAPI(job), nil
}

// TakeOver takes over the unfinished job whose instance stopped renewing
// its lease, if there is one and this instance runs none, and carries on
// with it in the background. Of instances that try at once, one takes it.
// It reports whether it took a job; finding none to take is not an error.
func (m *Migrations) TakeOver(ctx context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running != "" || m.ctx.Err() != nil {
		return false, nil
	}
	now := time.Now().UTC()
	job, err := m.jobs.TakeOverMigrationJob(ctx, m.instance, now, now.Add(m.lease.Expiry))
	switch {
	case candor.Is(err, candor.NotFound), candor.Is(err, candor.Conflict):
		return false, nil
	case err != nil:
		return false, err
	}
	m.log.Warn("took over a migration whose instance stopped; carrying on", "job", job.ID, "done", job.Done, "total", job.Total)
	m.launch(job)
	return true, nil
}

// launch runs job in the background; m.mu is held.
func (m *Migrations) launch(job store.MigrationJob) {
	m.running = job.ID
	m.mig.Actor = job.By // no job runs here: the last one let go of mig before it cleared running
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(job)
		m.mu.Lock()
		m.running = ""
		m.mu.Unlock()
	}()
}

// Stop stops the jobs this instance runs, without finishing them, and
// waits for them: their leases run out and another instance (or this one
// after a restart) takes them over. No job starts here after it.
func (m *Migrations) Stop() {
	m.cancel()
	m.wg.Wait()
}

// errLeaseLost stops a job whose lease this instance no longer holds.
var errLeaseLost = errors.New("the migration's lease was lost")

// run runs job while this instance holds its lease, from where it stands:
// the accounts it lists as moved are skipped. It finishes the job (in the
// directory) when it is done or fails; it leaves it unfinished, for
// another instance to take over, when the lease is lost or Stop is called.
func (m *Migrations) run(job store.MigrationJob) {
	ctx, cancel := context.WithCancelCause(m.ctx)
	defer cancel(nil)
	held := m.hold(ctx, cancel, job.ID)
	defer held()

	err := m.work(ctx, &job)
	if ctx.Err() != nil || errors.Is(err, errLeaseLost) {
		reason := context.Cause(ctx)
		if reason == nil {
			reason = err
		}
		m.log.Warn("migration stopped on this instance; another takes it over once its lease expires",
			"job", job.ID, "reason", reason)
		return
	}
	msg := ""
	if err != nil {
		msg = candor.Message(err)
		m.log.Error("migration stopped; run it again to carry on", "job", job.ID, "err", err)
	}
	if err := m.jobs.FinishMigrationJob(ctx, job.ID, m.instance, time.Now().UTC(), msg); err != nil {
		m.log.Error("migration could not be marked finished; another instance takes it over once its lease expires", "job", job.ID, "err", err)
	}
}

// hold renews job's lease every Lease.Renew until ctx ends, and cancels
// ctx (with errLeaseLost) when a renewal is refused, or when renewals
// keep failing (the directory cannot be reached) until less than one
// Renew of the lease is left. It returns a function that ends ctx and
// waits.
func (m *Migrations) hold(ctx context.Context, cancel context.CancelCauseFunc, id string) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		until := time.Now().Add(m.lease.Expiry) // at the latest; the store holds the real one
		tick := time.NewTicker(m.lease.Renew)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			now := time.Now().UTC()
			err := m.jobs.RenewMigrationLease(ctx, id, m.instance, now, now.Add(m.lease.Expiry))
			switch {
			case err == nil:
				until = now.Add(m.lease.Expiry)
			case candor.Is(err, candor.Conflict), candor.Is(err, candor.NotFound):
				cancel(fmt.Errorf("%w: %v", errLeaseLost, err))
				return
			case !time.Now().Add(m.lease.Renew).Before(until):
				// The next try would come too late: stop while the
				// lease still holds, before another may take over.
				cancel(fmt.Errorf("%w: not renewed in time: %v", errLeaseLost, err))
				return
			}
		}
	}()
	return func() {
		cancel(nil)
		<-done
	}
}

// still checks that this instance still holds job id's lease, renewing it.
func (m *Migrations) still(ctx context.Context, id string) error {
	now := time.Now().UTC()
	if err := m.jobs.RenewMigrationLease(ctx, id, m.instance, now, now.Add(m.lease.Expiry)); err != nil {
		return fmt.Errorf("%w: %w", errLeaseLost, err)
	}
	return nil
}

// target is one account a job moves, and where.
type target struct {
	account candor.AccountID
	to      candor.RegionID
}

// work moves job's accounts that it does not list as moved yet, one by
// one, checking the lease before each and recording each move. It stops at
// the first failure, except in a resumed job, which goes on and returns
// the failures together.
func (m *Migrations) work(ctx context.Context, job *store.MigrationJob) error {
	moved := map[candor.AccountID]bool{}
	for _, mv := range job.Moved {
		moved[mv.Account] = true
	}
	var todo []target
	switch {
	case job.Account != "":
		todo = []target{{job.Account, job.To}}
	case job.Resume:
		entries, err := m.mig.dir.MovingAccounts(ctx)
		if err != nil {
			return err
		}
		for _, e := range entries {
			todo = append(todo, target{e.Account, e.Moving})
		}
	default:
		accounts, err := m.mig.CountryAccounts(ctx, job.Country)
		if err != nil {
			return err
		}
		for _, a := range accounts {
			todo = append(todo, target{a, job.To})
		}
	}
	// A job over a fixed list (one account, a country) counts it whole,
	// the accounts it lists as moved included; a resumed job counts those
	// still moving on top of the ones it did.
	skip := func(t target) bool { return moved[t.account] && !job.Resume }
	done, total := job.Done, job.Done+len(todo)
	if !job.Resume {
		done, total = 0, len(todo)
		for _, t := range todo {
			if skip(t) {
				done++
			}
		}
	}
	if err := m.jobs.RecordMigrationProgress(ctx, job.ID, m.instance, time.Now().UTC(), total, done, nil); err != nil {
		return fmt.Errorf("%w: %v", errLeaseLost, err)
	}
	var errs []error
	for _, t := range todo {
		if skip(t) {
			continue
		}
		if err := m.still(ctx, job.ID); err != nil {
			return err
		}
		mv, err := m.mig.MoveAccount(ctx, t.account, t.to)
		if err != nil {
			if !job.Resume || ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("an account moving to %s: %w", t.to, err))
			continue
		}
		done++
		moved[t.account] = true
		rec := store.JobMove{Account: mv.Account, From: mv.From, To: mv.To, Records: mv.Records, Keys: mv.Keys,
			Blobs: mv.Blobs, Bytes: mv.Bytes, Already: mv.Already}
		if err := m.jobs.RecordMigrationProgress(ctx, job.ID, m.instance, time.Now().UTC(), total, done, []store.JobMove{rec}); err != nil {
			return fmt.Errorf("%w: %v", errLeaseLost, err)
		}
	}
	return errors.Join(errs...)
}

// Migration reports a job's progress, from the directory: whichever
// instance runs or ran it. NotFound if there is no such job.
func (m *Migrations) Migration(ctx context.Context, id string) (api.Migration, error) {
	if !candor.ValidID(id) {
		return api.Migration{}, candor.E(candor.NotFound, "no such migration")
	}
	job, err := m.jobs.MigrationJob(ctx, id)
	if err != nil {
		return api.Migration{}, err
	}
	return toAPI(job), nil
}

// Unfinished reports the unfinished job, on whichever instance, if any.
func (m *Migrations) Unfinished(ctx context.Context) (api.Migration, bool, error) {
	job, err := m.jobs.UnfinishedMigrationJob(ctx)
	switch {
	case candor.Is(err, candor.NotFound):
		return api.Migration{}, false, nil
	case err != nil:
		return api.Migration{}, false, err
	}
	return toAPI(job), true, nil
}

// Running reports whether a job is unfinished, on any instance.
func (m *Migrations) Running(ctx context.Context) (bool, error) {
	_, ok, err := m.Unfinished(ctx)
	return ok, err
}

// Current reports the job this instance runs, if any, as the directory
// has it (only its id if the directory cannot be read within a few
// seconds).
func (m *Migrations) Current() (api.Migration, bool) {
	id := m.Holds()
	if id == "" {
		return api.Migration{}, false
	}
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	job, err := m.Migration(ctx, id)
	if err != nil {
		return api.Migration{ID: id, Holder: m.instance, Moved: []api.Moved{}}, true
	}
	return job, true
}

// toAPI is a job as the operator sees it.
func toAPI(j store.MigrationJob) api.Migration {
	out := api.Migration{ID: j.ID, To: string(j.To), Country: j.Country, Account: string(j.Account), Resume: j.Resume,
		Total: j.Total, Done: j.Done, Moved: make([]api.Moved, 0, len(j.Moved)), Started: j.Started, Error: j.Error}
	for _, mv := range j.Moved {
		out.Moved = append(out.Moved, api.Moved{Account: string(mv.Account), From: string(mv.From), To: string(mv.To),
			Records: mv.Records, Keys: mv.Keys, Blobs: mv.Blobs, Bytes: mv.Bytes, Already: mv.Already})
	}
	if !j.Finished.IsZero() {
		f := j.Finished
		out.Finished = &f
	} else {
		lease := j.Lease
		out.Holder, out.Lease = j.Holder, &lease
	}
	return out
}
