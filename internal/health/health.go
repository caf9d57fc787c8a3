// Package health tells whether the server can serve personal data: whether
// the keyring is sealed (GET /healthz, and the unsealed check in front of
// every personal route), whether every store answers (GET /readyz), and the
// candor_sealed metric.
package health

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Keys tells whether the keyring holds no key (keyring.Keyring).
type Keys interface {
	Sealed() bool
}

// Directory is the directory store, asked for a system key to see that it
// answers.
type Directory interface {
	SystemKey(ctx context.Context, name string) (store.WrappedKey, error)
}

// Region is a region's store, asked for its key versions to see that it
// answers.
type Region interface {
	KEKs(ctx context.Context) ([]store.WrappedKey, error)
}

// Probe answers health and readiness checks. It is safe for concurrent
// use and needs no key: it works while sealed.
type Probe struct {
	keys    Keys
	dir     Directory
	regions map[candor.RegionID]Region
}

// New returns a Probe over the keyring and every store.
func New(keys Keys, dir Directory, regions map[candor.RegionID]Region) *Probe {
	return &Probe{keys: keys, dir: dir, regions: regions}
}

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// Sealed reports whether the keyring holds no key, so that no personal
// data can be served.
func (p *Probe) Sealed() bool { return p.keys.Sealed() }

// Ready checks, within 2 seconds, that the directory and every region's
// store answer; it names the first that does not. It reads no secret (the
// directory's root check value, which need not exist yet, and each
// region's wrapped keys), so it answers while sealed too.
func (p *Probe) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := p.dir.SystemKey(ctx, "root-check"); err != nil && !candor.Is(err, candor.NotFound) {
		return fmt.Errorf("directory: %w", err)
	}
	for id, st := range p.regions {
		if _, err := st.KEKs(ctx); err != nil {
			return fmt.Errorf("region %s: %w", id, err)
		}
	}
	return nil
}

// SealedGauge is the candor_sealed metric: 1 while the server is sealed,
// 0 otherwise.
func (p *Probe) SealedGauge() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "candor_sealed", Help: "1 while the server is sealed and serves no personal data.",
	}, func() float64 {
		if p.Sealed() {
			return 1
		}
		return 0
	})
}
