package health_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/health"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// A fresh deployment is ready while sealed (its directory holds no root
// check yet); a region store that stops answering is named.
func TestProbe(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(d, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	in, err := sqlstore.OpenSQLiteRegion(filepath.Join(d, "in.db"))
	if err != nil {
		t.Fatal(err)
	}
	keys := keyring.New(dir, map[candor.RegionID]keyring.RegionKeys{"in": in})
	p := health.New(keys, dir, map[candor.RegionID]health.Region{"in": in})

	if !p.Sealed() {
		t.Error("a new keyring is not sealed")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.SealedGauge())
	metric := func() string {
		w := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		for _, line := range strings.Split(w.Body.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "candor_sealed "); ok {
				return v
			}
		}
		return "absent"
	}
	if v := metric(); v != "1" {
		t.Errorf("candor_sealed %s while sealed", v)
	}
	if err := p.Ready(ctx); err != nil {
		t.Errorf("not ready while sealed, before any ceremony: %v", err)
	}
	if err := keys.Unseal(ctx, make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if p.Sealed() || metric() != "0" {
		t.Errorf("after unsealing: sealed %v, candor_sealed %s", p.Sealed(), metric())
	}
	in.Close()
	if err := p.Ready(ctx); err == nil || !strings.HasPrefix(err.Error(), "region in: ") {
		t.Errorf("ready with a closed region store: %v", err)
	}
}
