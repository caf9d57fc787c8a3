package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor/internal/bus"
)

// Bus counts the notice bus's failures, whichever bus it is (in-process
// or NATS), as the messaging service meets them:
//
//	candor_bus_errors_total{op}
//
// op is "publish" or "subscribe". A failed publish is a push notice a
// device does not get (it fetches its inbox at its next poll); a failed
// subscribe is a WebSocket closed at once. The NATS bus counts its
// disconnections itself (candor_bus_disconnects_total).
type Bus struct {
	next   bus.Bus
	errors *prometheus.CounterVec
}

var _ bus.Bus = (*Bus)(nil)

// NewBus returns next counted, its metric registered with reg.
func NewBus(next bus.Bus, reg prometheus.Registerer) *Bus {
	b := &Bus{next: next, errors: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "candor_bus_errors_total", Help: "Notice bus operations that failed, by operation (publish, subscribe).",
	}, []string{"op"})}
	reg.MustRegister(b.errors)
	b.errors.WithLabelValues("publish")
	b.errors.WithLabelValues("subscribe")
	return b
}

// Publish publishes through next and counts its failure.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	err := b.next.Publish(ctx, subject, data)
	if err != nil && ctx.Err() == nil {
		b.errors.WithLabelValues("publish").Inc()
	}
	return err
}

// Subscribe subscribes through next and counts its failure.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (cancel func(), err error) {
	cancel, err = b.next.Subscribe(subject, fn)
	if err != nil {
		b.errors.WithLabelValues("subscribe").Inc()
	}
	return cancel, err
}

// Close closes next.
func (b *Bus) Close() error { return b.next.Close() }
