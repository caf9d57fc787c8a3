package membus

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/candorcloud/candor/internal/bus"
	"github.com/candorcloud/candor/internal/bus/bustest"
)

func TestBus(t *testing.T) { bustest.TestBus(t, open, same) }

func BenchmarkBus(b *testing.B) { bustest.Benchmark(b, open, same) }

func open[T testing.TB](t T) bus.Bus {
	b := New()
	t.Cleanup(func() { b.Close() })
	return b
}

// same is the peer of an in-process bus: the bus itself.
func same[T testing.TB](_ T, b bus.Bus) bus.Bus { return b }

// TestSlowSubscriber checks that Publish does not wait for a subscriber
// that is stuck, that the subscriber's queue keeps the newest Buffer
// messages, and that the dropped ones are counted.
func TestSlowSubscriber(t *testing.T) {
	b := New()
	defer b.Close()
	const extra, total = 100, Buffer + 100
	taken := make(chan struct{})
	release := make(chan struct{})
	var got []int
	all := make(chan struct{})
	cancel, err := b.Subscribe("slow", func(data []byte) {
		if string(data) == "first" {
			close(taken)
			<-release
			return
		}
		i, _ := strconv.Atoi(string(data))
		got = append(got, i)
		if i == total-1 {
			close(all)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	// The subscriber takes the first message and blocks; the next
	// Buffer+extra fill its queue and push out the oldest extra.
	ctx := context.Background()
	if err := b.Publish(ctx, "slow", []byte("first")); err != nil {
		t.Fatal(err)
	}
	<-taken
	start := time.Now()
	for i := range total {
		if err := b.Publish(ctx, "slow", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("publishing to a stuck subscriber took %v", d)
	}
	if d := b.Dropped(); d != extra {
		t.Errorf("Dropped() = %d, want %d", d, extra)
	}
	close(release)
	select {
	case <-all:
	case <-time.After(5 * time.Second):
		t.Fatal("the last message did not arrive")
	}
	// The newest are kept, in order.
	if len(got) != Buffer || got[0] != extra {
		t.Fatalf("subscriber got %d messages from %d, want %d from %d", len(got), got[0], Buffer, extra)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("message %d is %d after %d", i, got[i], got[i-1])
		}
	}
}

// TestCloseStopsGoroutines checks that Close returns once every
// subscription's goroutine has stopped, also for a subscription with a
// queue.
func TestCloseStopsGoroutines(t *testing.T) {
	b := New()
	for range 10 {
		if _, err := b.Subscribe("x", func([]byte) { time.Sleep(time.Millisecond) }); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		b.Publish(context.Background(), "x", nil)
	}
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if len(b.subs) != 0 {
		t.Fatalf("%d subjects left after Close", len(b.subs))
	}
}
