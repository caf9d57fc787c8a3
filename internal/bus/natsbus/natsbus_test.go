package natsbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/bus"
	"github.com/candorcloud/candor/internal/bus/bustest"
	"github.com/candorcloud/candor/internal/proxytest"
)

// testEnv names the NATS server the tests use, e.g. nats://127.0.0.1:4222.
// Each test works under a fresh random prefix, so tests and deployments
// can share the server; core NATS keeps nothing, so there is nothing to
// clean up but the connections. .ci/run sets it.
const testEnv = "CANDOR_TEST_NATS"

func TestBus(t *testing.T) {
	bustest.TestBus(needNATS(t), open, peer)
}

func BenchmarkBus(b *testing.B) { bustest.Benchmark(needNATS(b), open, peer) }

// needNATS skips t unless CANDOR_TEST_NATS names a server, and returns t.
func needNATS[T testing.TB](t T) T {
	t.Helper()
	if os.Getenv(testEnv) == "" {
		t.Skip("NATS tests skipped: set " + testEnv + ", e.g. nats://127.0.0.1:4222 (.ci/run sets it; the server runs on every machine)")
	}
	return t
}

// open returns a bus under a fresh random prefix, closed when t ends.
func open[T testing.TB](t T) bus.Bus {
	return dial(t, "candor-test.t-"+hex.EncodeToString(randBytes(8)))
}

// peer returns a second connection with a's prefix: another instance.
func peer[T testing.TB](t T, a bus.Bus) bus.Bus { return dial(t, a.(*Bus).Prefix()) }

func dial(t testing.TB, prefix string) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Dial(ctx, os.Getenv(testEnv), prefix)
	if err != nil {
		t.Fatalf("dialling %s: %v", testEnv, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// TestPrefix checks that a bus subject lives under the prefix on the
// server, and that a bus with no prefix uses the subject as it is.
func TestPrefix(t *testing.T) {
	needNATS(t)
	nc, err := nats.Connect(os.Getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b := open(t).(*Bus)
	raw, err := nc.SubscribeSync(b.Prefix() + ".messaging.device.dev_x")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	if err := b.Publish(t.Context(), "messaging.device.dev_x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	m, err := raw.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "1" {
		t.Fatalf("raw subscriber under the prefix: %v, %v", m, err)
	}

	// Someone else's message under the prefix reaches the bus too, and a
	// wildcard cannot be subscribed through it.
	got := make(chan string, 1)
	cancel, err := b.Subscribe("in", func(d []byte) { got <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	nc.Publish(b.Prefix()+".in", []byte("raw"))
	select {
	case d := <-got:
		if d != "raw" {
			t.Fatalf("got %q", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a raw message under the prefix did not arrive")
	}

	plain := dial(t, "")
	if plain.Prefix() != "" {
		t.Fatalf("Prefix() = %q, want empty", plain.Prefix())
	}
}

func TestDialInvalid(t *testing.T) {
	for _, prefix := range []string{"A", "a.", ".a", "a..b", "a.*", "a.>", "a b"} {
		if _, err := Dial(t.Context(), "nats://127.0.0.1:1", prefix); !candor.Is(err, candor.Invalid) {
			t.Errorf("Dial with prefix %q: %v, want Invalid", prefix, err)
		}
	}
	if _, err := Dial(t.Context(), "", "p"); !candor.Is(err, candor.Invalid) {
		t.Errorf("Dial with no url: %v, want Invalid", err)
	}
}

func TestUnavailable(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	_, err := Dial(t.Context(), "nats://127.0.0.1:1", "p")
	if !candor.Is(err, candor.Unavailable) {
		t.Fatalf("Dial with no server: %v, want Unavailable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Dial(ctx, "nats://127.0.0.1:1", "p"); err != context.Canceled {
		t.Fatalf("Dial with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestSlowSubscriber checks that a subscriber that falls Pending messages
// behind loses some, that they are counted, and that Publish does not
// wait for it.
func TestSlowSubscriber(t *testing.T) {
	needNATS(t)
	b := open(t).(*Bus)
	release := make(chan struct{})
	cancel, err := b.Subscribe("slow", func([]byte) { <-release })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	defer close(release)
	start := time.Now()
	for range 3 * Pending {
		if err := b.Publish(t.Context(), "slow", []byte("n")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Dropped() == 0 {
		t.Fatalf("nothing dropped after %d messages to a stuck subscriber", 3*Pending)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("publishing to a stuck subscriber took %v", d)
	}
	// Dropped keeps counting after the subscription is gone.
	before := b.Dropped()
	cancel()
	if after := b.Dropped(); after < before {
		t.Errorf("Dropped fell from %d to %d after cancel", before, after)
	}
}

// TestReconnect cuts the connection of one instance, through a proxy, and
// checks that it comes back by itself: Publish during the outage is sent
// on reconnection, a subscription made before the outage and one made
// during it both hear messages afterwards.
func TestReconnect(t *testing.T) {
	needNATS(t)
	u, err := url.Parse(os.Getenv(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	px := proxytest.New(t, u.Host)
	u.Host = px.Addr
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	prefix := "candor-test.t-" + hex.EncodeToString(randBytes(8))
	a, err := Dial(ctx, u.String(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	logs := &lockedBuffer{}
	a.SetLogger(slog.New(slog.NewTextHandler(logs, nil)))
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collectors()...)
	p := dial(t, prefix)

	before, during, onPeer := make(chan string, 10), make(chan string, 10), make(chan string, 10)
	subscribeTo := func(b *Bus, ch chan string) {
		t.Helper()
		c, err := b.Subscribe("re", func(d []byte) { ch <- string(d) })
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		t.Cleanup(c)
	}
	subscribeTo(a, before)
	subscribeTo(p, onPeer)

	px.Cut(true)
	waitUntil(t, "the connection drops", func() bool { return !a.nc.IsConnected() })
	if err := a.Publish(t.Context(), "re", []byte("buffered")); err != nil {
		t.Fatalf("Publish during the outage: %v", err)
	}
	start := time.Now()
	subscribeTo(a, during)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Subscribe during the outage took %v", d)
	}
	px.Cut(false)
	waitUntil(t, "the connection comes back", a.nc.IsConnected)
	if err := a.nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The outage is counted and logged, in metrics too.
	if a.Disconnects() != 1 || a.Reconnects() != 1 {
		t.Errorf("after one outage: %d disconnects, %d reconnects", a.Disconnects(), a.Reconnects())
	}
	for _, want := range []string{"notice bus disconnected", "notice bus reconnected"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	for name, want := range map[string]float64{"candor_bus_disconnects_total": 1, "candor_bus_reconnects_total": 1} {
		if got := counter(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := recv(t, onPeer); got != "buffered" {
		t.Fatalf("peer got %q, want the message published during the outage", got)
	}
	if err := p.Publish(t.Context(), "re", []byte("after")); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]chan string{"subscription from before": before, "subscription from during": during} {
		got := recv(t, ch)
		if got == "buffered" { // a's own message, echoed on reconnection
			got = recv(t, ch)
		}
		if got != "after" {
			t.Fatalf("%s got %q, want %q", name, got, "after")
		}
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func recv(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no message after 5s")
		return ""
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockedBuffer is a log destination safe for the connection's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// counter reads a counter's value from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
