package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/bus/membus"
)

// value is the sample of metric name with exactly labels (name=value
// pairs) in what reg gathers, and whether there is one.
func value(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel())*2 != len(labels) {
				continue
			}
			for i, l := range m.GetLabel() { // gathered labels are sorted by name
				if l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
					continue metric
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// A publish or a subscribe the bus refuses is counted by operation; one
// abandoned by its caller is not.
func TestBusCountsFailures(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := NewBus(membus.New(), reg)
	ctx := context.Background()
	if err := b.Publish(ctx, "device.x", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	cancel, err := b.Subscribe("device.x", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for _, op := range []string{"publish", "subscribe"} {
		if v, ok := value(t, reg, "candor_bus_errors_total", "op", op); !ok || v != 0 {
			t.Errorf("%s before any failure: %v (%v)", op, v, ok)
		}
	}
	b.Close()
	if err := b.Publish(ctx, "device.x", nil); !candor.Is(err, candor.Unavailable) {
		t.Fatalf("publish on a closed bus: %v", err)
	}
	if _, err := b.Subscribe("device.x", func([]byte) {}); !candor.Is(err, candor.Unavailable) {
		t.Fatalf("subscribe on a closed bus: %v", err)
	}
	gone, stop := context.WithCancel(ctx)
	stop()
	b.Publish(gone, "device.x", nil)
	for _, op := range []string{"publish", "subscribe"} {
		if v, _ := value(t, reg, "candor_bus_errors_total", "op", op); v != 1 {
			t.Errorf("%s failures: %v, want 1", op, v)
		}
	}
}

// jobs is a migration runner reduced to what Migration reads.
type jobs struct {
	job     api.Migration
	running bool
}

func (j *jobs) Current() (api.Migration, bool) { return j.job, j.running }

// The running job's progress is read at each scrape; with none running,
// every series is 0.
func TestMigrationProgress(t *testing.T) {
	reg := prometheus.NewRegistry()
	j := &jobs{}
	NewMigration(j, reg)
	check := func(running, total, done float64) {
		t.Helper()
		for _, c := range []struct {
			want   float64
			name   string
			labels []string
		}{
			{running, "candor_migration_running", nil},
			{total, "candor_migration_accounts", []string{"state", "total"}},
			{done, "candor_migration_accounts", []string{"state", "done"}},
		} {
			if v, ok := value(t, reg, c.name, c.labels...); !ok || v != c.want {
				t.Errorf("%s%v = %v (%v), want %v", c.name, c.labels, v, ok, c.want)
			}
		}
	}
	check(0, 0, 0)
	j.job, j.running = api.Migration{ID: "mig_1", To: "eu", Country: "DE", Total: 40, Done: 12}, true
	check(1, 40, 12)
	j.job.Done = 40
	check(1, 40, 40)
	j.job, j.running = api.Migration{}, false
	check(0, 0, 0)
}

// A label is one of a small fixed set whatever a caller passes.
func TestLabelsAreFromFixedSets(t *testing.T) {
	if got := category(candor.Category("+919812345678")); got != "other" {
		t.Errorf("category of a phone number: %q", got)
	}
	if got := category(candor.Notes); got != "notes" {
		t.Errorf("category notes: %q", got)
	}
	known := regionSet([]candor.RegionID{"in", "eu"})
	if got := regionLabel(known, "someone@example.invalid"); got != "other" {
		t.Errorf("region of an email: %q", got)
	}
	if got := outcome(candor.ErrConsent(candor.Notes)); got != "consent_required" {
		t.Errorf("outcome of a consent error: %q", got)
	}
	if got := outcome(context.Canceled); got != "internal" {
		t.Errorf("outcome of an unclassified error: %q", got)
	}
}
