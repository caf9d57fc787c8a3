package retention

import (
	"context"
	"sync"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
)

// Regions are the configured regions and their rules (region.Config).
type Regions interface {
	IDs() []candor.RegionID
	Rules(id candor.RegionID) Rules
}

// Sessions deletes expired device sessions (the directory).
type Sessions interface {
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
}

// Log appends to an audit log (audit.Logs).
type Log interface {
	Append(ctx context.Context, log string, e audit.Event) error
}

// Service applies every region's rules on demand (`candor operator
// retention run`, and hourly by the server's upkeep loop) and tells each
// person the rules of their region. It is safe for concurrent use.
type Service struct {
	regions  Regions
	stores   map[candor.RegionID]Store
	uploads  Uploads
	sessions Sessions
	log      Log
	now      func() time.Time

	mu      sync.Mutex
	running int       // runs in progress
	lastRun time.Time // when the last run that succeeded finished
}

// New returns a Service over every region's store.
func New(regions Regions, stores map[candor.RegionID]Store, uploads Uploads, sessions Sessions, log Log) *Service {
	return &Service{regions: regions, stores: stores, uploads: uploads, sessions: sessions, log: log, now: time.Now}
}

// RunRetention purges every region now, in order, logging each region's
// run in the directory's audit log as by, then deletes expired sessions.
// It stops at the first failure, keeping what earlier regions purged; a
// run that cannot be logged stops there too. Running it again is safe.
func (s *Service) RunRetention(ctx context.Context, by string) (out api.RetentionRun, err error) {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		if err == nil {
			s.lastRun = s.now().UTC()
		}
		s.mu.Unlock()
	}()
	for _, id := range s.regions.IDs() {
		st, ok := s.stores[id]
		if !ok {
			return out, candor.Errorf(candor.WrongRegion, "region %s is not served by this server", id)
		}
		p, err := Purge(ctx, id, s.regions.Rules(id), st, s.uploads, s.now())
		if err != nil {
			return out, err
		}
		out.Regions = append(out.Regions, api.Purged{Region: string(p.Region), DeletedItems: p.DeletedItems,
			UndeliveredMessages: p.UndeliveredMessages, AbandonedUploads: p.AbandonedUploads})
		if err := s.log.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: audit.ActionRetention, Outcome: audit.OK,
			Region: string(id), Count: p.DeletedItems + p.UndeliveredMessages + p.AbandonedUploads}); err != nil {
			return out, err
		}
	}
	n, err := s.sessions.DeleteExpiredSessions(ctx, s.now())
	if err != nil {
		return out, err
	}
	out.ExpiredSessions = n
	return out, nil
}

// Runs reports when the last successful run finished (zero if none since
// this process started) and whether one runs now.
func (s *Service) Runs() (last time.Time, running bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastRun, s.running > 0
}

// RetentionRules are the rules of a region as a person reads them: each
// duration written out, and the fixed rules in words.
func (s *Service) RetentionRules(region candor.RegionID) api.Retention {
	r := s.regions.Rules(region)
	text := func(d Duration) string { b, _ := d.MarshalText(); return string(b) }
	return api.Retention{Region: string(region), DeletedItems: text(r.DeletedItems),
		UndeliveredMessages: text(r.UndeliveredMessages), AbandonedUploads: text(r.AbandonedUploads),
		Other: map[string]string{"audit_events": AuditEvents, "consent_ledger": ConsentLedger, "your_data": AccountData}}
}
