package region

import (
	"context"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Migrations runs region migrations as background jobs, one at a time,
// and keeps their progress in memory for the operator to follow
// (POST /v1/operator/migrations, GET /v1/operator/migrations/{id}). A job
// interrupted by a crash is simply started again: moves are idempotent.
// Safe for concurrent use.
type Migrations struct {
	mig *Migrator // used by one job at a time, its Actor set to the job's
	log *slog.Logger

	mu sync.Mutex
	// jobs by id; running is the id of the job in progress, if any.
	jobs    map[string]*api.Migration
	running string
}

// NewMigrations returns a job runner whose jobs run mig. A job that stops
// is logged to log.
func NewMigrations(mig *Migrator, log *slog.Logger) *Migrations {
	return &Migrations{mig: mig, log: log}
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// StartMigration starts moving one account or a country's accounts to a
// region, or resuming the moves that stopped, as a job run by by. It
// refuses a request that names none or several of these, and a second
// job while one runs (Conflict). It returns at once; Migration follows
// the job.
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
	job := &api.Migration{ID: candor.NewID("mig"), To: req.To, Country: req.Country, Account: req.Account, Resume: req.Resume,
		Started: time.Now().UTC(), Moved: []api.Moved{}}
	if m.jobs == nil {
		m.jobs = map[string]*api.Migration{}
	}
	m.jobs[job.ID], m.running = job, job.ID
	m.mig.Actor = by // no job runs: the last one let go of mig before it cleared running
	snapshot := *job
	go m.run(job)
	return snapshot, nil
}

func (m *Migrations) run(job *api.Migration) {
	ctx, mig := context.Background(), m.mig
	record := func(mv Moved) {
		job.Moved = append(job.Moved, api.Moved{Account: string(mv.Account), From: string(mv.From), To: string(mv.To),
			Records: mv.Records, Keys: mv.Keys, Blobs: mv.Blobs, Bytes: mv.Bytes, Already: mv.Already})
	}
	var err error
	if job.Account != "" {
		m.mu.Lock()
		job.Total = 1
		m.mu.Unlock()
		var mv Moved
		mv, err = mig.MoveAccount(ctx, candor.AccountID(job.Account), candor.RegionID(job.To))
		m.mu.Lock()
		if err == nil {
			record(mv)
			job.Done = 1
		}
		m.mu.Unlock()
	} else {
		progress := func(done, total int, mv Moved) {
			m.mu.Lock()
			defer m.mu.Unlock()
			job.Done, job.Total = done, total
			if done > 0 {
				record(mv)
			}
		}
		if job.Resume {
			_, err = mig.Resume(ctx, progress)
		} else {
			_, err = mig.MoveCountry(ctx, job.Country, candor.RegionID(job.To), progress)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC()
	job.Finished, m.running = &now, ""
	if err != nil {
		job.Error = candor.Message(err)
		m.log.Error("migration stopped; run it again to carry on", "job", job.ID, "err", err)
	}
}

// Migration reports a job's progress: NotFound for a job this process did
// not start (jobs are forgotten at a restart).
func (m *Migrations) Migration(id string) (api.Migration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	job, ok := m.jobs[id]
	if !ok {
		return api.Migration{}, candor.E(candor.NotFound, "no such migration (jobs are forgotten when the server restarts: start it again)")
	}
	out := *job
	out.Moved = append([]api.Moved{}, job.Moved...) // [] before the first move, never null
	return out, nil
}

// Running reports whether a job is in progress.
func (m *Migrations) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running != ""
}

// Current reports the job in progress, if any.
func (m *Migrations) Current() (api.Migration, bool) {
	m.mu.Lock()
	id := m.running
	m.mu.Unlock()
	if id == "" {
		return api.Migration{}, false
	}
	job, err := m.Migration(id)
	return job, err == nil
}
