// Package natsbus is the notice bus over a NATS server, for several
// `candor serve` instances: a message published on one reaches the
// subscribers of every instance connected to the same server (or cluster)
// with the same prefix. It uses core NATS only — no JetStream, nothing is
// stored on the server.
//
// The bus subject "a.b" is the NATS subject "PREFIX.a.b", so deployments
// and tests can share a server. A connection that drops is re-established
// for as long as the Bus is open; meanwhile Publish buffers up to
// ReconnectBuffer bytes, subscriptions are restored on reconnection, and
// messages that other instances publish in the gap are lost (they are
// hints: the next one, or the device's next fetch, catches up).
//
// Each subscription holds at most Pending messages not yet handed to its
// function; beyond that NATS drops the newest and Dropped counts them.
//
// Every loss of the connection and every reconnection is logged (to the
// logger SetLogger gives) and counted: Disconnects, Reconnects, and the
// metrics Collectors returns (candor_bus_disconnects_total,
// candor_bus_reconnects_total, candor_bus_dropped_total).
package natsbus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/bus"
)

// Limits and timings of a connection.
const (
	// Pending is the number of messages a subscription holds for a
	// subscriber that has not taken them yet.
	Pending = 4096
	// ReconnectBuffer is how many bytes of Publish calls are held while
	// the connection is down; beyond it Publish fails with
	// candor.Unavailable.
	ReconnectBuffer = 1 << 20
	// DialTimeout bounds each attempt to reach a server.
	DialTimeout = 5 * time.Second
	// DrainTimeout bounds Close.
	DrainTimeout = 5 * time.Second
)

// Bus is a notice bus over one NATS connection. It is safe for concurrent
// use.
type Bus struct {
	nc     *nats.Conn
	prefix string // "" or "p."

	closedCh  chan struct{} // closed by NATS once the connection is closed
	closeDone chan struct{} // closed when Close has set closeErr
	closeErr  error

	closing atomic.Bool // set once, under mu

	log                     atomic.Pointer[slog.Logger]
	disconnects, reconnects atomic.Uint64

	mu      sync.Mutex
	subs    map[*nats.Subscription]struct{}
	dropped uint64 // by subscriptions already cancelled
}

var _ bus.Bus = (*Bus)(nil)

// Dial connects to the NATS server(s) at url (nats://host:port, or a
// comma-separated list; credentials, if any, in the URL) and returns a bus
// whose subjects live under prefix. prefix is empty or a valid bus subject
// ("candor", "candor.eu"); instances that are to hear each other use the
// same one.
//
// Dial fails with candor.Invalid for a malformed prefix or an empty url,
// with candor.Unavailable if no server can be reached, and with ctx's
// error if ctx is done first. Close releases the connection.
func Dial(ctx context.Context, url string, prefix string) (*Bus, error) {
	if url == "" {
		return nil, candor.E(candor.Invalid, "no nats url")
	}
	if prefix != "" {
		if err := bus.CheckSubject(prefix); err != nil {
			return nil, candor.E(candor.Invalid, "malformed nats subject prefix")
		}
		prefix += "."
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := &Bus{prefix: prefix, closedCh: make(chan struct{}), closeDone: make(chan struct{}), subs: make(map[*nats.Subscription]struct{})}
	b.log.Store(discardLogger)
	opts := []nats.Option{
		nats.Name("candor"),
		nats.Timeout(DialTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(ReconnectBuffer),
		nats.PingInterval(20 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(DrainTimeout),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closedCh) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if b.closing.Load() {
				return
			}
			b.disconnects.Add(1)
			// The cause may name the server's address, never a person.
			b.logger().Warn("notice bus disconnected: reconnecting", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.reconnects.Add(1)
			b.logger().Info("notice bus reconnected")
		}),
		// Slow consumers are counted by Dropped; other asynchronous
		// errors resolve by reconnection. Without a handler nats.go
		// would print them.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			// The cause may hold the URL and its credentials: it is
			// logged, never shown.
			return nil, candor.Wrap(candor.Unavailable, "the notice bus cannot be reached", r.err)
		}
		b.nc = r.nc
		return b, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// SetLogger makes the bus log its disconnections and reconnections to
// log (nothing is logged until it is called). It is safe to call at any
// time.
func (b *Bus) SetLogger(log *slog.Logger) {
	if log != nil {
		b.log.Store(log)
	}
}

func (b *Bus) logger() *slog.Logger { return b.log.Load() }

// Disconnects reports how many times the connection was lost (not
// counting Close).
func (b *Bus) Disconnects() uint64 { return b.disconnects.Load() }

// Reconnects reports how many times a lost connection was made again.
func (b *Bus) Reconnects() uint64 { return b.reconnects.Load() }

// Collectors are the bus's metrics, for a Prometheus registry:
// candor_bus_disconnects_total, candor_bus_reconnects_total and
// candor_bus_dropped_total.
func (b *Bus) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "candor_bus_disconnects_total", Help: "Times the connection to the NATS notice bus was lost.",
		}, func() float64 { return float64(b.Disconnects()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "candor_bus_reconnects_total", Help: "Times a lost connection to the NATS notice bus was made again.",
		}, func() float64 { return float64(b.Reconnects()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "candor_bus_dropped_total", Help: "Notices dropped because a subscriber fell behind.",
		}, func() float64 { return float64(b.Dropped()) }),
	}
}

// Prefix returns the prefix the bus was dialled with.
func (b *Bus) Prefix() string {
	if b.prefix == "" {
		return ""
	}
	return b.prefix[:len(b.prefix)-1]
}

var errClosed = candor.E(candor.Unavailable, "the notice bus is closed")

// Publish hands data to the connection, which sends it to the server
// shortly (or on reconnection, from a bounded buffer). It does not wait
// for the server.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	if err := bus.CheckSubject(subject); err != nil {
		return err
	}
	if err := bus.CheckData(data); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closing.Load() {
		return errClosed
	}
	if err := b.nc.Publish(b.prefix+subject, data); err != nil {
		return b.fail("publish", err)
	}
	return nil
}

// Subscribe subscribes to subject and waits (up to DialTimeout) for the
// server to confirm, so that messages published anywhere after it returns
// reach fn. While the connection is down it returns at once: the
// subscription takes effect on reconnection.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (cancel func(), err error) {
	if err := bus.CheckSubject(subject); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, candor.E(candor.Invalid, "no function for the bus subscription")
	}
	var stopped atomic.Bool
	b.mu.Lock()
	if b.closing.Load() {
		b.mu.Unlock()
		return nil, errClosed
	}
	s, err := b.nc.Subscribe(b.prefix+subject, func(m *nats.Msg) {
		if !stopped.Load() {
			fn(m.Data)
		}
	})
	if err != nil {
		b.mu.Unlock()
		return nil, b.fail("subscribe", err)
	}
	if err := s.SetPendingLimits(Pending, Pending*1024); err != nil {
		b.mu.Unlock()
		s.Unsubscribe()
		return nil, b.fail("subscribe", err)
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	cancel = func() {
		if stopped.Swap(true) {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[s]; !ok {
			return // Close took it
		}
		delete(b.subs, s)
		if n, err := s.Dropped(); err == nil {
			b.dropped += uint64(n)
		}
		// Errors mean the subscription or the connection is gone already.
		s.Unsubscribe()
	}
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(DialTimeout); err != nil && !b.nc.IsReconnecting() {
			cancel()
			return nil, b.fail("subscribe", err)
		}
	}
	return cancel, nil
}

// Dropped reports how many messages subscriptions dropped because their
// subscriber fell Pending messages behind.
func (b *Bus) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.dropped
	for s := range b.subs {
		if d, err := s.Dropped(); err == nil {
			n += uint64(d)
		}
	}
	return n
}

// Close drains the connection: subscriptions stop taking new messages and
// deliver those already received, Publish calls made before Close are sent
// to the server, and then the connection closes. It waits for that, at
// most DrainTimeout; if the connection is down, it closes at once.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closing.Load() {
		b.mu.Unlock()
		<-b.closeDone
		return b.closeErr
	}
	b.closing.Store(true)
	for s := range b.subs {
		if n, err := s.Dropped(); err == nil {
			b.dropped += uint64(n)
		}
	}
	clear(b.subs)
	b.mu.Unlock()
	defer close(b.closeDone)

	switch err := b.nc.Drain(); {
	case err == nil:
	case errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrConnectionClosed):
		// Drain has closed the connection: there was nothing to send.
		b.nc.Close()
	default:
		b.nc.Close()
		b.closeErr = candor.Wrap(candor.Unavailable, "closing the notice bus", err)
	}
	select {
	case <-b.closedCh:
	case <-time.After(DrainTimeout + time.Second):
		b.nc.Close()
		<-b.closedCh
	}
	if err := b.nc.LastError(); b.closeErr == nil && errors.Is(err, nats.ErrDrainTimeout) {
		b.closeErr = candor.Wrap(candor.Unavailable, "the notice bus did not drain in time", err)
	}
	return b.closeErr
}

// fail turns an error of nats.go into one of Candor's kinds.
func (b *Bus) fail(op string, err error) error {
	switch {
	case b.closing.Load(), errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return errClosed
	case errors.Is(err, nats.ErrMaxPayload):
		return candor.Wrap(candor.TooLarge, "the bus message is larger than the server accepts", err)
	}
	return candor.Wrap(candor.Unavailable, "the notice bus cannot be reached ("+op+")", err)
}
