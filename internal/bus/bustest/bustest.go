// Package bustest is the conformance suite of the notice bus contract.
// Every implementation of bus.Bus runs it in one line:
//
//	func TestBus(t *testing.T) { bustest.TestBus(t, open, peer) }
//
// open must return an open bus that no other test shares (for NATS, a
// fresh prefix) and close it when t ends. peer must return another
// instance of the same deployment as the bus it is given — for NATS a
// second connection with the same prefix, for an in-process bus the bus
// itself — and close it when t ends. The suite calls them once per
// subtest; closing a bus twice is allowed by the contract.
//
// The suite checks observable behaviour only, as bus.go documents it. It
// assumes a subscriber that keeps up misses nothing when at most 200
// messages are in flight to it. Every wait is bounded by Wait.
package bustest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/bus"
)

// Wait bounds every wait of the suite for a message to arrive.
const Wait = 5 * time.Second

// quiet is how long the suite watches for a message that must not come,
// after one that was published later on the same path has arrived.
const quiet = 100 * time.Millisecond

// TestBus runs the conformance suite against the buses open and peer
// return.
func TestBus(t *testing.T, open func(t *testing.T) bus.Bus, peer func(t *testing.T, b bus.Bus) bus.Bus) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, a, p bus.Bus)
	}{
		{"Local", testLocal},
		{"Peer", testPeer},
		{"Data", testData},
		{"DataOwned", testDataOwned},
		{"Order", testOrder},
		{"Unsubscribe", testUnsubscribe},
		{"CancelInCallback", testCancelInCallback},
		{"SubjectsIsolated", testSubjectsIsolated},
		{"ManySubscribers", testManySubscribers},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"ConcurrentSubscribe", testConcurrentSubscribe},
		{"Invalid", testInvalid},
		{"Close", testClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t)
			tc.test(t, a, peer(t, a))
		})
	}
	t.Run("BusesIsolated", func(t *testing.T) { testBusesIsolated(t, open(t), open(t)) })
}

// recorder collects the messages of a subscription.
type recorder struct {
	mu     sync.Mutex
	msgs   []string
	notify chan struct{} // capacity 1: msgs has grown
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) fn(data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, string(data))
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// wait returns the messages once there are at least n, failing t after
// Wait.
func (r *recorder) wait(t testing.TB, what string, n int) []string {
	t.Helper()
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	for {
		if got := r.got(); len(got) >= n {
			return got
		}
		select {
		case <-r.notify:
		case <-timer.C:
			got := r.got()
			t.Fatalf("%s: %d messages after %v, want %d; got %s", what, len(got), Wait, n, brief(got))
		}
	}
}

// brief shows at most a few messages.
func brief(msgs []string) string {
	if len(msgs) > 8 {
		return fmt.Sprintf("%q ... (%d more)", msgs[:8], len(msgs)-8)
	}
	return fmt.Sprintf("%q", msgs)
}

// subscribe subscribes r to subject on b, cancelled when t ends.
func subscribe(t testing.TB, b bus.Bus, subject string, r *recorder) func() {
	t.Helper()
	cancel, err := b.Subscribe(subject, r.fn)
	if err != nil {
		t.Fatalf("Subscribe %q: %v", subject, err)
	}
	t.Cleanup(cancel)
	return cancel
}

func publish(t testing.TB, b bus.Bus, subject, data string) {
	t.Helper()
	if err := b.Publish(context.Background(), subject, []byte(data)); err != nil {
		t.Fatalf("Publish %q: %v", subject, err)
	}
}

func want(t testing.TB, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %s, want %s", what, brief(got), brief(want))
	}
}

// wantKind fails unless err has kind k.
func wantKind(t testing.TB, what string, err error, k candor.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want kind %v", what, k)
	}
	if !candor.Is(err, k) {
		t.Fatalf("%s: got error %v of kind %v, want kind %v", what, err, candor.KindOf(err), k)
	}
}

// testLocal: a subscriber hears what its own instance publishes, right
// after Subscribe returns.
func testLocal(t *testing.T, a, _ bus.Bus) {
	r := newRecorder()
	subscribe(t, a, "messaging.device.dev_a", r)
	publish(t, a, "messaging.device.dev_a", "1")
	want(t, "subscriber", r.wait(t, "subscriber", 1), "1")
}

// testPeer: what either instance publishes reaches the subscribers of
// both.
func testPeer(t *testing.T, a, p bus.Bus) {
	ra, rp := newRecorder(), newRecorder()
	subscribe(t, a, "n", ra)
	subscribe(t, p, "n", rp)
	publish(t, a, "n", "from-a")
	ga, gp := ra.wait(t, "subscriber on a", 1), rp.wait(t, "subscriber on peer", 1)
	want(t, "subscriber on a", ga, "from-a")
	want(t, "subscriber on peer", gp, "from-a")
	publish(t, p, "n", "from-peer")
	want(t, "subscriber on a", ra.wait(t, "subscriber on a", 2), "from-a", "from-peer")
	want(t, "subscriber on peer", rp.wait(t, "subscriber on peer", 2), "from-a", "from-peer")
}

// testData: messages arrive byte for byte, empty and MaxData included, and
// Publish does not keep the caller's slice.
func testData(t *testing.T, a, p bus.Bus) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	large := bytes.Repeat([]byte("0123456789abcdef"), bus.MaxData/16)
	msgs := [][]byte{{}, {0}, binary, []byte(`{"device":"dev_abcdefghijklmnopqrstuvwxyz","n":3}`), large}

	var mu sync.Mutex
	var got [][]byte
	done := make(chan struct{})
	cancel, err := p.Subscribe("data", func(data []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, data)
		if len(got) == len(msgs) {
			close(done)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	for _, m := range msgs {
		buf := slices.Clone(m)
		if err := a.Publish(context.Background(), "data", buf); err != nil {
			t.Fatalf("Publish %d bytes: %v", len(m), err)
		}
		for i := range buf {
			buf[i] ^= 0xff // the bus must have taken a copy
		}
	}
	select {
	case <-done:
	case <-time.After(Wait):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d messages after %v", len(got), len(msgs), Wait)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, m := range msgs {
		if !bytes.Equal(got[i], m) {
			t.Errorf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(got[i]), got[i], len(m), m)
		}
	}
}

// testDataOwned: each subscriber gets its own copy: one that changes its
// data does not change another's.
func testDataOwned(t *testing.T, a, _ bus.Bus) {
	const msg = "owned"
	changed := make(chan struct{})
	cancel, err := a.Subscribe("owned", func(data []byte) {
		for i := range data {
			data[i] = 'X'
		}
		close(changed)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	kept := make(chan []byte, 1)
	cancel2, err := a.Subscribe("owned", func(data []byte) {
		select {
		case <-changed:
		case <-time.After(Wait):
		}
		kept <- data
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel2)
	publish(t, a, "owned", msg)
	select {
	case data := <-kept:
		if string(data) != msg {
			t.Fatalf("second subscriber sees %q after the first changed its copy, want %q", data, msg)
		}
	case <-time.After(2 * Wait):
		t.Fatal("no message")
	}
}

// testOrder: messages one goroutine publishes on one instance arrive in
// order, on both instances.
func testOrder(t *testing.T, a, p bus.Bus) {
	const n = 150
	ra, rp := newRecorder(), newRecorder()
	subscribe(t, a, "order", ra)
	subscribe(t, p, "order", rp)
	var sent []string
	for i := range n {
		m := fmt.Sprint(i)
		publish(t, a, "order", m)
		sent = append(sent, m)
	}
	want(t, "subscriber on a", ra.wait(t, "subscriber on a", n), sent...)
	want(t, "subscriber on peer", rp.wait(t, "subscriber on peer", n), sent...)
}

// testUnsubscribe: after cancel returns, a subscription hears nothing
// more, whoever publishes; others on the subject still do; cancel may be
// called twice.
func testUnsubscribe(t *testing.T, a, p bus.Bus) {
	gone, stays := newRecorder(), newRecorder()
	cancel := subscribe(t, a, "unsub", gone)
	subscribe(t, p, "unsub", stays)
	publish(t, a, "unsub", "1")
	gone.wait(t, "subscriber before cancel", 1)
	stays.wait(t, "other subscriber", 1)
	cancel()
	cancel()
	publish(t, a, "unsub", "2")
	publish(t, p, "unsub", "3")
	got := stays.wait(t, "other subscriber", 3)
	slices.Sort(got[1:])
	want(t, "other subscriber", got, "1", "2", "3")
	time.Sleep(quiet)
	want(t, "cancelled subscriber", gone.got(), "1")

	// Subscribing again to the subject works as before.
	again := newRecorder()
	subscribe(t, a, "unsub", again)
	publish(t, p, "unsub", "4")
	want(t, "new subscriber", again.wait(t, "new subscriber", 1), "4")
}

// testCancelInCallback: fn may cancel its own subscription; it is not
// called again.
func testCancelInCallback(t *testing.T, a, p bus.Bus) {
	var mu sync.Mutex
	var cancel func()
	calls := 0
	self := func([]byte) {
		mu.Lock()
		calls++
		c := cancel
		mu.Unlock()
		c()
	}
	mu.Lock()
	c, err := a.Subscribe("self", self)
	if err != nil {
		mu.Unlock()
		t.Fatal(err)
	}
	cancel = c
	mu.Unlock()
	t.Cleanup(c)
	control := newRecorder()
	subscribe(t, p, "self", control)
	for i := range 5 {
		publish(t, a, "self", fmt.Sprint(i))
	}
	control.wait(t, "control subscriber", 5)
	time.Sleep(quiet)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Fatalf("a subscriber that cancels on its first message was called %d times", calls)
	}
}

// testSubjectsIsolated: a subscription hears its subject only: no
// prefixes, extensions or near misses.
func testSubjectsIsolated(t *testing.T, a, p bus.Bus) {
	r := newRecorder()
	subscribe(t, a, "iso.a.b", r)
	others := []string{"iso.a.c", "iso.a", "iso", "iso.a.b.c", "iso.a.bb", "iso.a-b", "iso.a_b", "iso.ab", "x.iso.a.b", "a.b"}
	for _, b := range []bus.Bus{a, p} {
		for _, s := range others {
			publish(t, b, s, s)
		}
	}
	publish(t, a, "iso.a.b", "mark-a")
	publish(t, p, "iso.a.b", "mark-p")
	got := r.wait(t, "subscriber", 2)
	slices.Sort(got)
	want(t, "subscriber", got, "mark-a", "mark-p")
	time.Sleep(quiet)
	if got := r.got(); len(got) != 2 {
		t.Fatalf("subscriber: got %s, want the two marks only", brief(got))
	}
}

// testBusesIsolated: buses that open returns for different tests do not
// hear each other.
func testBusesIsolated(t *testing.T, a, b bus.Bus) {
	ra, rb := newRecorder(), newRecorder()
	subscribe(t, a, "shared", ra)
	subscribe(t, b, "shared", rb)
	publish(t, a, "shared", "a")
	publish(t, b, "shared", "b")
	want(t, "subscriber on a", ra.wait(t, "subscriber on a", 1), "a")
	want(t, "subscriber on b", rb.wait(t, "subscriber on b", 1), "b")
	time.Sleep(quiet)
	want(t, "subscriber on a", ra.got(), "a")
	want(t, "subscriber on b", rb.got(), "b")
}

// testManySubscribers: many subscriptions on many subjects, on both
// instances, each hear their subject's messages exactly once.
func testManySubscribers(t *testing.T, a, p bus.Bus) {
	const subjects, perSubject = 20, 6
	var recs [subjects][perSubject]*recorder
	for s := range subjects {
		for i := range perSubject {
			recs[s][i] = newRecorder()
			on := a
			if i%2 == 1 {
				on = p
			}
			subscribe(t, on, fmt.Sprintf("many.s%d", s), recs[s][i])
		}
	}
	for s := range subjects {
		publish(t, a, fmt.Sprintf("many.s%d", s), fmt.Sprintf("a%d", s))
		publish(t, p, fmt.Sprintf("many.s%d", s), fmt.Sprintf("p%d", s))
	}
	for s := range subjects {
		for i, r := range recs[s] {
			what := fmt.Sprintf("subscriber %d of many.s%d", i, s)
			got := r.wait(t, what, 2)
			slices.Sort(got)
			want(t, what, got, fmt.Sprintf("a%d", s), fmt.Sprintf("p%d", s))
		}
	}
	time.Sleep(quiet)
	for s := range subjects {
		for i, r := range recs[s] {
			if got := r.got(); len(got) != 2 {
				t.Fatalf("subscriber %d of many.s%d: got %s, want 2 messages", i, s, brief(got))
			}
		}
	}
}

// testConcurrentPublishers: goroutines publishing at once on both
// instances; every subscriber hears every message once, each goroutine's
// in order.
func testConcurrentPublishers(t *testing.T, a, p bus.Bus) {
	const goroutines, each = 8, 25
	ra, rp := newRecorder(), newRecorder()
	subscribe(t, a, "conc", ra)
	subscribe(t, p, "conc", rp)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		on := a
		if g%2 == 1 {
			on = p
		}
		wg.Go(func() {
			for i := range each {
				if err := on.Publish(context.Background(), "conc", fmt.Appendf(nil, "%d-%03d", g, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}
	for _, c := range []struct {
		what string
		r    *recorder
	}{{"subscriber on a", ra}, {"subscriber on peer", rp}} {
		got := c.r.wait(t, c.what, goroutines*each)
		last := map[string]string{}
		for _, m := range got {
			g, _, _ := strings.Cut(m, "-")
			if m <= last[g] {
				t.Fatalf("%s: %q after %q", c.what, m, last[g])
			}
			last[g] = m
		}
		if len(got) != goroutines*each {
			t.Fatalf("%s: %d messages, want %d", c.what, len(got), goroutines*each)
		}
	}
}

// testConcurrentSubscribe: subscriptions come and go while messages flow;
// a steady subscriber hears them all.
func testConcurrentSubscribe(t *testing.T, a, p bus.Bus) {
	const n = 100
	steady := newRecorder()
	subscribe(t, p, "churn", steady)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		on := a
		if g%2 == 1 {
			on = p
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cancel, err := on.Subscribe("churn", func([]byte) {})
				if err != nil {
					t.Errorf("Subscribe: %v", err)
					return
				}
				cancel()
			}
		})
	}
	for i := range n {
		publish(t, a, "churn", fmt.Sprint(i))
	}
	steady.wait(t, "steady subscriber", n)
	close(stop)
	wg.Wait()
}

// testInvalid: malformed subjects, oversized messages, a missing function
// and a done context are refused.
func testInvalid(t *testing.T, a, _ bus.Bus) {
	ctx := context.Background()
	for _, s := range []string{
		"", ".", "a.", ".a", "a..b", "A", "a.B", "a b", "a/b", "a*", "a.*", "a.>", ">", "*", "$sys", "a\x00",
		"é", "a\n", strings.Repeat("a", bus.MaxSubject+1),
	} {
		wantKind(t, fmt.Sprintf("Publish to %q", s), a.Publish(ctx, s, []byte("x")), candor.Invalid)
		_, err := a.Subscribe(s, func([]byte) {})
		wantKind(t, fmt.Sprintf("Subscribe to %q", s), err, candor.Invalid)
	}
	for _, s := range []string{"a", "a.b", "0", "a-b_c.d-9", "messaging.device.dev_abcdefghijklmnopqrstuvwxyz", strings.Repeat("a", bus.MaxSubject)} {
		if err := bus.CheckSubject(s); err != nil {
			t.Errorf("CheckSubject(%q): %v", s, err)
		}
	}
	wantKind(t, "Publish of MaxData+1 bytes", a.Publish(ctx, "big", make([]byte, bus.MaxData+1)), candor.TooLarge)
	_, err := a.Subscribe("nil", nil)
	wantKind(t, "Subscribe with a nil function", err, candor.Invalid)

	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Publish(done, "ctx", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with a cancelled context: %v, want context.Canceled", err)
	}
}

// testClose: Close delivers what was published before it, then Publish
// and Subscribe fail with Unavailable; Close and cancel may be called
// again.
func testClose(t *testing.T, a, _ bus.Bus) {
	const n = 50
	r := newRecorder()
	cancel := subscribe(t, a, "close", r)
	for i := range n {
		publish(t, a, "close", fmt.Sprint(i))
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := r.got(); len(got) != n {
		t.Errorf("Close returned with %d of %d messages delivered", len(got), n)
	}
	wantKind(t, "Publish after Close", a.Publish(context.Background(), "close", []byte("x")), candor.Unavailable)
	_, err := a.Subscribe("close", func([]byte) {})
	wantKind(t, "Subscribe after Close", err, candor.Unavailable)
	cancel()
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
