package server

import (
	"context"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/retention"
)

// RunRetention applies every region's retention rules now.
func (s *Server) RunRetention(ctx context.Context, by string) (api.RetentionRun, error) {
	var out api.RetentionRun
	for _, id := range s.cfg.regions().IDs() {
		p, err := retention.Purge(ctx, id, s.cfg.regions().Rules(id), s.regions[id], s.photos, time.Now())
		if err != nil {
			return out, err
		}
		out.Regions = append(out.Regions, api.Purged{Region: string(p.Region), DeletedItems: p.DeletedItems,
			UndeliveredMessages: p.UndeliveredMessages, AbandonedUploads: p.AbandonedUploads})
		if err := s.logs.Append(ctx, audit.Directory, audit.Event{Actor: by, Action: "retention.run", Outcome: audit.OK,
			Region: string(id), Count: p.DeletedItems + p.UndeliveredMessages + p.AbandonedUploads}); err != nil {
			return out, err
		}
	}
	n, err := s.dir.DeleteExpiredSessions(ctx, time.Now())
	if err != nil {
		return out, err
	}
	out.ExpiredSessions = n
	return out, nil
}

// RetentionRules are the rules of a region, as a person reads them.
func (s *Server) RetentionRules(region candor.RegionID) api.Retention {
	r := s.cfg.regions().Rules(region)
	text := func(d retention.Duration) string { b, _ := d.MarshalText(); return string(b) }
	return api.Retention{Region: string(region), DeletedItems: text(r.DeletedItems),
		UndeliveredMessages: text(r.UndeliveredMessages), AbandonedUploads: text(r.AbandonedUploads),
		Other: map[string]string{"audit_events": retention.AuditEvents, "consent_ledger": retention.ConsentLedger,
			"your_data": retention.AccountData}}
}
