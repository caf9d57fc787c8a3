package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// AuditLogs is what Audit reads of the audit logs (audit.Logs).
type AuditLogs interface {
	// Names lists the logs: "directory" and one per region.
	Names() []string
	// Size is the number of entries in a log (one read of its head row).
	Size(ctx context.Context, log string) (int64, error)
	// LastVerified is the log's last verification this process finished.
	LastVerified(log string) (audit.Verified, bool)
	// Checkpoint signs and stores a checkpoint of the log at its size.
	Checkpoint(ctx context.Context, log string) (store.Checkpoint, error)
}

// Audit is a collector of the audit logs' metrics, read when Prometheus
// scrapes:
//
//	candor_audit_appends_total{log}              entries appended to the log, ever: its size as the store says
//	candor_audit_checkpoint_age_seconds{log}     seconds since this instance last signed a checkpoint of the log
//	candor_audit_verification_failed{log}        1 if the log's last verification found it tampered, else 0
//
// The appends are the log's size, read from the store at each scrape (one
// indexed row per log), so every instance reports the same count; take
// the max across instances. The checkpoint age is counted from this
// process's start until its upkeep signs a first checkpoint: an instance
// that cannot sign (sealed, a store down) shows an age that grows. A log
// that no verification has finished yet has no verification series.
//
// Audit also signs the checkpoints for the upkeep (Names and Checkpoint,
// upkeep.Checkpointer): put it between the logs and SignCheckpoints, so
// that it sees each signature.
type Audit struct {
	logs  AuditLogs
	start time.Time
	now   func() time.Time

	mu     sync.Mutex
	signed map[string]time.Time // log -> when this process last signed a checkpoint of it

	appends, age, failed *prometheus.Desc
}

var _ prometheus.Collector = (*Audit)(nil)

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 2 * time.Second

// NewAudit returns the collector over logs, registered with reg.
func NewAudit(logs AuditLogs, reg prometheus.Registerer) *Audit {
	a := &Audit{logs: logs, start: time.Now(), now: time.Now, signed: map[string]time.Time{},
		appends: prometheus.NewDesc("candor_audit_appends_total",
			"Entries appended to each audit log since it began (its size, read from the store).", []string{"log"}, nil),
		age: prometheus.NewDesc("candor_audit_checkpoint_age_seconds",
			"Seconds since this instance last signed a checkpoint of each audit log (since its start, before the first).", []string{"log"}, nil),
		failed: prometheus.NewDesc("candor_audit_verification_failed",
			"1 if the last verification of the audit log found it tampered (edited outside Candor), 0 if it was intact.", []string{"log"}, nil),
	}
	reg.MustRegister(a)
	return a
}

// Names lists the logs (upkeep.Checkpointer).
func (a *Audit) Names() []string { return a.logs.Names() }

// Checkpoint signs a checkpoint of log and remembers when (upkeep.Checkpointer).
func (a *Audit) Checkpoint(ctx context.Context, log string) (store.Checkpoint, error) {
	c, err := a.logs.Checkpoint(ctx, log)
	if err == nil {
		a.mu.Lock()
		a.signed[log] = a.now()
		a.mu.Unlock()
	}
	return c, err
}

// Describe sends the descriptions of the metrics.
func (a *Audit) Describe(ch chan<- *prometheus.Desc) {
	ch <- a.appends
	ch <- a.age
	ch <- a.failed
}

// Collect reads each log's size from the store, and the rest from memory.
// A log whose size cannot be read has no appends sample in this scrape.
func (a *Audit) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	now := a.now()
	for _, log := range a.logs.Names() {
		if n, err := a.logs.Size(ctx, log); err == nil {
			ch <- prometheus.MustNewConstMetric(a.appends, prometheus.CounterValue, float64(n), log)
		}
		a.mu.Lock()
		since, ok := a.signed[log]
		a.mu.Unlock()
		if !ok {
			since = a.start
		}
		ch <- prometheus.MustNewConstMetric(a.age, prometheus.GaugeValue, now.Sub(since).Seconds(), log)
		if v, ok := a.logs.LastVerified(log); ok {
			failed := 0.0
			if !v.OK {
				failed = 1
			}
			ch <- prometheus.MustNewConstMetric(a.failed, prometheus.GaugeValue, failed, log)
		}
	}
}
