package health_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/health"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
)

// sealedMetric serves reg's metrics and reads candor_sealed.
func sealedMetric(reg *prometheus.Registry) string {
	w := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(w.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "candor_sealed "); ok {
			return v
		}
	}
	return "absent"
}

// A fresh deployment is ready while sealed (its directory holds no root
// check yet); a region store that stops answering is named.
func TestProbe(t *testing.T) {
	env := keyringtest.New(t, "in")
	p := health.New(env.Keys, env.Dir, map[candor.RegionID]health.Region{"in": env.Regions["in"]}, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.SealedGauge())

	if !p.Sealed() || sealedMetric(reg) != "1" {
		t.Errorf("a new keyring: sealed %v, candor_sealed %s", p.Sealed(), sealedMetric(reg))
	}
	if err := p.Ready(context.Background()); err != nil {
		t.Errorf("not ready while sealed, before any ceremony: %v", err)
	}
	env.Unseal(t)
	if p.Sealed() || sealedMetric(reg) != "0" {
		t.Errorf("after unsealing: sealed %v, candor_sealed %s", p.Sealed(), sealedMetric(reg))
	}
	env.Regions["in"].Close()
	if err := p.Ready(context.Background()); !candor.Is(err, candor.Unavailable) || !strings.Contains(candor.Message(err), "region in") {
		t.Errorf("ready with a closed region store: %v", err)
	}
}

// A folder whose file system has less room than it needs makes the server
// not ready, saying the disk is full and nothing of where.
func TestProbeFullDisk(t *testing.T) {
	env := keyringtest.New(t, "in")
	dir := t.TempDir()
	regions := map[candor.RegionID]health.Region{"in": env.Regions["in"]}
	if err := health.New(env.Keys, env.Dir, regions, nil, health.Folder{Path: dir, MinFree: 1}).Ready(context.Background()); err != nil {
		t.Fatalf("ready with room: %v", err)
	}
	err := health.New(env.Keys, env.Dir, regions, nil, health.Folder{Path: dir, MinFree: 1 << 62}).Ready(context.Background())
	if !candor.Is(err, candor.Unavailable) || candor.Message(err) != "the server's disk is full" {
		t.Fatalf("ready with the disk full: %v", err)
	}
}

// bucket is a blob store on another server that answers Check with err.
type bucket struct{ err error }

func (b bucket) Check(context.Context) error { return b.err }

// A bucket that cannot be reached makes the server not ready, naming the
// region's blob store and nothing of where it is.
func TestProbeBucket(t *testing.T) {
	env := keyringtest.New(t, "in")
	regions := map[candor.RegionID]health.Region{"in": env.Regions["in"]}
	up := map[candor.RegionID]health.Bucket{"in": bucket{}}
	if err := health.New(env.Keys, env.Dir, regions, up).Ready(context.Background()); err != nil {
		t.Fatalf("ready with the bucket answering: %v", err)
	}
	down := map[candor.RegionID]health.Bucket{"in": bucket{errors.New("dial tcp 10.0.0.7:9000: connection refused")}}
	err := health.New(env.Keys, env.Dir, regions, down).Ready(context.Background())
	if !candor.Is(err, candor.Unavailable) || candor.Message(err) != "the blob store of region in cannot be reached" {
		t.Fatalf("ready with the bucket cut off: %v", err)
	}
}
