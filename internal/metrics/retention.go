package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// RetentionService is what the upkeep loop and the API ask of the
// retention service (retention.Service).
type RetentionService interface {
	RunRetention(ctx context.Context, by string) (api.RetentionRun, error)
	RetentionRules(region candor.RegionID) api.Retention
	Runs() (last time.Time, running bool)
}

// Retention counts what retention runs remove, whoever starts them (the
// hourly upkeep, an administrator):
//
//	candor_retention_runs_total{outcome}
//	candor_retention_purged_total{region, kind}
//
// kind is "deleted_items" (tombstones purged), "undelivered_messages" or
// "abandoned_uploads", by region; and "expired_sessions", with region
// "directory". A run that fails counts what it removed before it
// stopped. The undelivered messages are counted as expired messages too
// (Messages), when messages is not nil.
type Retention struct {
	next     RetentionService
	regions  map[candor.RegionID]bool
	messages *Messages
	runs     *prometheus.CounterVec
	purged   *prometheus.CounterVec
}

var _ RetentionService = (*Retention)(nil)

// NewRetention returns next counted, its metrics registered with reg.
func NewRetention(next RetentionService, regions []candor.RegionID, messages *Messages, reg prometheus.Registerer) *Retention {
	r := &Retention{next: next, regions: regionSet(regions), messages: messages,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_retention_runs_total", Help: "Retention runs by outcome.",
		}, []string{"outcome"}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_retention_purged_total", Help: "What retention runs removed, by region and kind (deleted_items are tombstones).",
		}, []string{"region", "kind"}),
	}
	reg.MustRegister(r.runs, r.purged)
	r.runs.WithLabelValues("ok")
	for _, id := range regions {
		for _, k := range []string{"deleted_items", "undelivered_messages", "abandoned_uploads"} {
			r.purged.WithLabelValues(string(id), k)
		}
	}
	r.purged.WithLabelValues("directory", "expired_sessions")
	return r
}

// RunRetention runs next's retention and counts what it removed.
func (r *Retention) RunRetention(ctx context.Context, by string) (api.RetentionRun, error) {
	out, err := r.next.RunRetention(ctx, by)
	r.runs.WithLabelValues(outcome(err)).Inc()
	for _, p := range out.Regions {
		id := candor.RegionID(p.Region)
		region := regionLabel(r.regions, id)
		r.purged.WithLabelValues(region, "deleted_items").Add(float64(p.DeletedItems))
		r.purged.WithLabelValues(region, "undelivered_messages").Add(float64(p.UndeliveredMessages))
		r.purged.WithLabelValues(region, "abandoned_uploads").Add(float64(p.AbandonedUploads))
		if r.messages != nil {
			r.messages.Expired(id, p.UndeliveredMessages)
		}
	}
	r.purged.WithLabelValues("directory", "expired_sessions").Add(float64(out.ExpiredSessions))
	return out, err
}

// RetentionRules forwards to next.
func (r *Retention) RetentionRules(region candor.RegionID) api.Retention {
	return r.next.RetentionRules(region)
}

// Runs forwards to next.
func (r *Retention) Runs() (last time.Time, running bool) { return r.next.Runs() }
