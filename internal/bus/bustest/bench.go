package bustest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor/internal/bus"
)

// BenchWindow is how many notices Benchmark keeps in flight: fewer than a
// subscriber's buffer, so none is dropped and every one is counted.
const BenchWindow = 128

// benchNotice is a typical notice: a device id and a count.
var benchNotice = []byte(`{"device":"dev_abcdefghijklmnopqrstuvwxyz","n":3}`)

// Benchmark measures notices per second from Publish to the subscriber's
// function, with BenchWindow in flight: on one instance ("Local"), from a
// to its peer ("Peer", skipped when peer returns a itself), and to ten
// subscribers of one subject ("Fanout10", counting deliveries). The
// notices/s column is the figure; ns/op is per Publish. The time includes
// waiting for the last delivery. "PeerLatency" keeps one notice in flight,
// to the peer: its ns/op is the time from Publish to the subscriber's
// function and back to the publisher.
func Benchmark(b *testing.B, open func(b *testing.B) bus.Bus, peer func(b *testing.B, a bus.Bus) bus.Bus) {
	b.Run("Local", func(b *testing.B) {
		a := open(b)
		bench(b, a, []bus.Bus{a}, BenchWindow)
	})
	b.Run("Peer", func(b *testing.B) {
		a := open(b)
		p := peer(b, a)
		if p == a {
			b.Skip("the peer is the same bus")
		}
		bench(b, a, []bus.Bus{p}, BenchWindow)
	})
	b.Run("PeerLatency", func(b *testing.B) {
		a := open(b)
		bench(b, a, []bus.Bus{peer(b, a)}, 1)
	})
	b.Run("Fanout10", func(b *testing.B) {
		a := open(b)
		p := peer(b, a)
		subs := make([]bus.Bus, 10)
		for i := range subs {
			subs[i] = a
			if i%2 == 1 {
				subs[i] = p
			}
		}
		bench(b, a, subs, BenchWindow)
	})
}

// bench publishes on pub until b is done, each notice reaching every bus
// in subs, and waits for the last delivery. Each subscription has its own
// window, so none falls more than inFlight notices behind.
func bench(b *testing.B, pub bus.Bus, subs []bus.Bus, inFlight int) {
	ctx := context.Background()
	n := int64(len(subs))
	windows := make([]chan struct{}, len(subs))
	var delivered atomic.Int64
	all := make(chan struct{}, 1)
	var want atomic.Int64 // deliveries awaited at the end; 0 until then
	for i, s := range subs {
		window := make(chan struct{}, inFlight)
		windows[i] = window
		cancel, err := s.Subscribe("bench", func([]byte) {
			<-window
			d := delivered.Add(1)
			if w := want.Load(); w > 0 && d == w {
				all <- struct{}{}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(cancel)
	}
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	published := int64(0)
	b.ResetTimer()
	for range b.N {
		for _, w := range windows {
			select {
			case w <- struct{}{}:
			case <-deadline.C:
				b.Fatalf("stuck: %d of %d deliveries after a minute", delivered.Load(), published*n)
			}
		}
		if err := pub.Publish(ctx, "bench", benchNotice); err != nil {
			b.Fatal(err)
		}
		published++
	}
	want.Store(published * n)
	if delivered.Load() < published*n {
		select {
		case <-all:
		case <-deadline.C:
			b.Fatalf("%d of %d deliveries after a minute", delivered.Load(), published*n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(published*n)/b.Elapsed().Seconds(), "notices/s")
	if n > 1 {
		b.ReportMetric(float64(published)/b.Elapsed().Seconds(), "publishes/s")
	}
}
