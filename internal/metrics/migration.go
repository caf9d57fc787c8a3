package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor/api"
)

// Migrating reports the region migration in progress (region.Migrations).
type Migrating interface {
	Current() (api.Migration, bool)
}

// Migration is a collector of the running migration's progress, read when
// Prometheus scrapes:
//
//	candor_migration_running                  1 while a migration job runs on this instance, else 0
//	candor_migration_accounts{state}          the running job's accounts: state "total" and "done" (0 when none runs)
type Migration struct {
	jobs            Migrating
	running, counts *prometheus.Desc
}

var _ prometheus.Collector = (*Migration)(nil)

// NewMigration returns the collector over jobs, registered with reg.
func NewMigration(jobs Migrating, reg prometheus.Registerer) *Migration {
	m := &Migration{jobs: jobs,
		running: prometheus.NewDesc("candor_migration_running", "1 while a region migration job runs on this instance.", nil, nil),
		counts: prometheus.NewDesc("candor_migration_accounts",
			"Accounts of the running region migration job: state total (to move) and done (moved).", []string{"state"}, nil),
	}
	reg.MustRegister(m)
	return m
}

// Describe sends the descriptions of the metrics.
func (m *Migration) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.running
	ch <- m.counts
}

// Collect reads the job in progress.
func (m *Migration) Collect(ch chan<- prometheus.Metric) {
	job, ok := m.jobs.Current()
	running := 0.0
	if ok {
		running = 1
	}
	ch <- prometheus.MustNewConstMetric(m.running, prometheus.GaugeValue, running)
	ch <- prometheus.MustNewConstMetric(m.counts, prometheus.GaugeValue, float64(job.Total), "total")
	ch <- prometheus.MustNewConstMetric(m.counts, prometheus.GaugeValue, float64(job.Done), "done")
}
