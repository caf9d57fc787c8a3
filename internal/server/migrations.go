package server

import (
	"context"
	"regexp"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/region"
)

// migrations runs region migrations as background jobs, one at a time,
// and keeps their progress for the operator to follow. A job interrupted
// by a crash is simply started again: moves are idempotent.
type migrations struct {
	s  *Server
	mu sync.Mutex
	// jobs by id; running is the id of the job in progress, if any.
	jobs    map[string]*api.Migration
	running string
}

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// StartMigration starts moving one account or a country's accounts.
func (m *migrations) StartMigration(ctx context.Context, by string, req api.MigrateRequest) (api.Migration, error) {
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
	if _, ok := m.s.regions[to]; !ok && !req.Resume {
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
	snapshot := *job
	go m.run(job, by)
	return snapshot, nil
}

func (m *migrations) run(job *api.Migration, by string) {
	ctx := context.Background()
	mig := region.NewMigrator(m.s.dir, m.s.regions, m.s.blobs, m.s.keys, m.s.logs)
	mig.Actor = by
	record := func(mv region.Moved) {
		job.Moved = append(job.Moved, api.Moved{Account: string(mv.Account), From: string(mv.From), To: string(mv.To),
			Records: mv.Records, Keys: mv.Keys, Blobs: mv.Blobs, Bytes: mv.Bytes, Already: mv.Already})
	}
	var err error
	if job.Account != "" {
		m.mu.Lock()
		job.Total = 1
		m.mu.Unlock()
		var mv region.Moved
		mv, err = mig.MoveAccount(ctx, candor.AccountID(job.Account), candor.RegionID(job.To))
		m.mu.Lock()
		if err == nil {
			record(mv)
			job.Done = 1
		}
		m.mu.Unlock()
	} else {
		progress := func(done, total int, mv region.Moved) {
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
		m.s.cfg.Logger.Error("migration stopped; run it again to carry on", "job", job.ID, "err", err)
	}
}

// Migration reports a job's progress.
func (m *migrations) Migration(id string) (api.Migration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	job, ok := m.jobs[id]
	if !ok {
		return api.Migration{}, candor.E(candor.NotFound, "no such migration (jobs are forgotten when the server restarts: start it again)")
	}
	out := *job
	out.Moved = append([]api.Moved(nil), job.Moved...)
	return out, nil
}

// warnMoving logs, after an unseal, how many accounts are still marked
// moving with no migration running: moves that stopped (a crash, a restart)
// and whose accounts are unavailable until an operator resumes them.
func (s *Server) warnMoving(ctx context.Context) {
	s.migrations.mu.Lock()
	running := s.migrations.running != ""
	s.migrations.mu.Unlock()
	if running {
		return
	}
	list, err := s.dir.MovingAccounts(ctx)
	if err != nil || len(list) == 0 {
		return
	}
	s.cfg.Logger.Warn("accounts are marked moving but no migration is running: they are unavailable until it is resumed with `candor operator migrate --resume`",
		"accounts", len(list))
}
