package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/records"
)

// RecordService is the records service as the API holds it (behind the
// audit wrapper and the consent gate): what Records wraps.
type RecordService interface {
	Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error)
	Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error)
}

// Records counts syncs — every push and pull of one category, by a phone
// or a CardDAV client — and the records they carry:
//
//	candor_syncs_total{direction, category, region, outcome}
//	candor_sync_records_total{direction, category, region}
//
// direction is "push" or "pull"; region is the account's home region;
// outcome is "ok" or the error kind's code. A push counts the changes the
// store applied (not the conflicts), a pull the records it returned.
type Records struct {
	next    RecordService
	regions map[candor.RegionID]bool
	syncs   *prometheus.CounterVec
	records *prometheus.CounterVec
}

var _ RecordService = (*Records)(nil)

// NewRecords returns next counted, its metrics registered with reg, each
// label set of a successful sync of a synced category in regions made at 0.
func NewRecords(next RecordService, regions []candor.RegionID, reg prometheus.Registerer) *Records {
	r := &Records{next: next, regions: regionSet(regions),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_syncs_total", Help: "Syncs of one category (a push or a pull) by direction, category, home region and outcome.",
		}, []string{"direction", "category", "region", "outcome"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "candor_sync_records_total", Help: "Records pushed (changes applied) and pulled (records returned) by direction, category and home region.",
		}, []string{"direction", "category", "region"}),
	}
	reg.MustRegister(r.syncs, r.records)
	for _, c := range candor.Categories() {
		if !c.Synced() {
			continue
		}
		for _, id := range regions {
			for _, d := range []string{"push", "pull"} {
				r.syncs.WithLabelValues(d, string(c), string(id), "ok")
				r.records.WithLabelValues(d, string(c), string(id))
			}
		}
	}
	return r
}

// Push pushes through next and counts the sync and the changes applied.
func (r *Records) Push(ctx context.Context, p candor.Principal, c candor.Category, epoch int64, changes []records.Change) (records.Pushed, error) {
	out, err := r.next.Push(ctx, p, c, epoch, changes)
	cat, region := category(c), regionLabel(r.regions, p.Region)
	r.syncs.WithLabelValues("push", cat, region, outcome(err)).Inc()
	applied := 0
	for _, res := range out.Results {
		if res.Applied {
			applied++
		}
	}
	r.records.WithLabelValues("push", cat, region).Add(float64(applied))
	return out, err
}

// Pull pulls through next and counts the sync and the records returned.
func (r *Records) Pull(ctx context.Context, p candor.Principal, c candor.Category, since int64, limit int) (records.Feed, error) {
	out, err := r.next.Pull(ctx, p, c, since, limit)
	cat, region := category(c), regionLabel(r.regions, p.Region)
	r.syncs.WithLabelValues("pull", cat, region, outcome(err)).Inc()
	r.records.WithLabelValues("pull", cat, region).Add(float64(len(out.Records)))
	return out, err
}
