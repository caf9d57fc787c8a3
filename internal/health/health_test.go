package health_test

import (
	"context"
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
	p := health.New(env.Keys, env.Dir, map[candor.RegionID]health.Region{"in": env.Regions["in"]})
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
	if err := p.Ready(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "region in: ") {
		t.Errorf("ready with a closed region store: %v", err)
	}
}
