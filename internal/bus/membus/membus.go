// Package membus is the notice bus of a single process: Publish hands a
// copy of the message to each subscriber of the subject in this process.
// It is the default when one `candor serve` runs alone.
//
// Each subscription has its own goroutine and a queue of at most Buffer
// messages, so Publish never waits for a subscriber. When a slow
// subscriber's queue is full, Publish drops the oldest message in it and
// counts it (Dropped): notices are idempotent hints, and the newest one
// carries the latest counts, so the newest is the one to keep.
package membus

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/bus"
)

// Buffer is the number of messages a subscription holds for a subscriber
// that has not taken them yet; beyond it the oldest is dropped.
const Buffer = 256

// Bus is an in-process notice bus. It is safe for concurrent use. The zero
// value is not usable: call New.
type Bus struct {
	mu      sync.RWMutex
	subs    map[string][]*sub // by subject; a slice is never modified, only replaced
	closed  bool
	wg      sync.WaitGroup // delivery goroutines
	dropped atomic.Uint64
}

var _ bus.Bus = (*Bus)(nil)

// New returns an open bus with no subscribers.
func New() *Bus {
	return &Bus{subs: make(map[string][]*sub)}
}

// sub is one subscription: a bounded queue and the goroutine that empties
// it into fn.
type sub struct {
	fn      func([]byte)
	dropped *atomic.Uint64

	mu       sync.Mutex
	queue    [][]byte // oldest first, at most Buffer
	draining bool     // the bus is closing: deliver what is queued, then stop

	wake    chan struct{} // capacity 1: there may be something in queue
	stopped atomic.Bool   // cancelled: deliver nothing more
}

// Publish gives each subscriber of subject its own copy of data. It never
// blocks on a subscriber.
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
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errClosed
	}
	for _, s := range b.subs[subject] {
		s.push(slices.Clone(data))
	}
	return nil
}

var errClosed = candor.E(candor.Unavailable, "the notice bus is closed")

// Subscribe starts a subscription to subject. It fails only for a
// malformed subject or a closed bus.
func (b *Bus) Subscribe(subject string, fn func(data []byte)) (cancel func(), err error) {
	if err := bus.CheckSubject(subject); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, candor.E(candor.Invalid, "no function for the bus subscription")
	}
	s := &sub{fn: fn, dropped: &b.dropped, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, errClosed
	}
	b.subs[subject] = append(slices.Clip(b.subs[subject]), s)
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		s.run()
	}()
	var once sync.Once
	return func() { once.Do(func() { b.remove(subject, s) }) }, nil
}

// remove cancels s and takes it off subject's list.
func (b *Bus) remove(subject string, s *sub) {
	s.stopped.Store(true)
	s.signal()
	b.mu.Lock()
	defer b.mu.Unlock()
	list := slices.DeleteFunc(slices.Clone(b.subs[subject]), func(x *sub) bool { return x == s })
	if len(list) == 0 {
		delete(b.subs, subject)
	} else {
		b.subs[subject] = list
	}
}

// Close refuses further Publish and Subscribe calls, lets every
// subscription deliver what it has queued, and returns when all have
// stopped.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, list := range b.subs {
		for _, s := range list {
			s.mu.Lock()
			s.draining = true
			s.mu.Unlock()
			s.signal()
		}
	}
	b.subs = nil
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// Dropped reports how many messages were dropped, over all subscriptions,
// because a subscriber fell Buffer messages behind.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// push queues data, dropping the oldest message if the queue is full.
func (s *sub) push(data []byte) {
	s.mu.Lock()
	if len(s.queue) == Buffer {
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.dropped.Add(1)
	}
	s.queue = append(s.queue, data)
	s.mu.Unlock()
	s.signal()
}

func (s *sub) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run delivers queued messages to fn, one at a time, until the
// subscription is cancelled or the bus has closed and the queue is empty.
// It takes one message at a time, so the queue alone holds what fn has
// not taken.
func (s *sub) run() {
	for range s.wake {
		for !s.stopped.Load() {
			s.mu.Lock()
			if len(s.queue) == 0 {
				draining := s.draining
				s.mu.Unlock()
				if draining {
					return
				}
				break
			}
			data := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.mu.Unlock()
			s.fn(data)
		}
		if s.stopped.Load() {
			return
		}
	}
}
