// Package upkeep is the server's background work: a loop over small named
// tasks — re-wrapping data keys during a key rotation, verifying the audit
// logs after an unseal, signing checkpoints, expiring abandoned uploads and
// undelivered messages, the hourly retention run, keeping the update
// metadata signed, warning of accounts left moving, taking over a
// migration whose instance stopped, reloading the region key versions —
// run one after another at every pass, each only in the keyring state it
// needs.
//
// The loop decides when a task runs and what happens when it fails; each
// task decides nothing but its own work, over the small interfaces it
// declares, so it can be tested on its own. Package server lists the tasks
// and their order (compose.go).
package upkeep

import (
	"context"
	"log/slog"
	"time"

	"github.com/candorcloud/candor"
)

// Keys tells whether the keyring is sealed (keyring.Keyring).
type Keys interface {
	Sealed() bool
}

// When says in which state of the keyring a task runs.
type When int

const (
	// WhileUnsealed tasks run at every pass while the keyring is unsealed
	// (at most once every Task.Every, when it is set). The zero When: work
	// that needs keys never runs while sealed by omission.
	WhileUnsealed When = iota
	// OnceUnsealed tasks run at the first pass after each unseal, and at
	// every pass after that until they succeed.
	OnceUnsealed
	// WhileSealed tasks run at every pass while the keyring is sealed.
	WhileSealed
)

// Task is one piece of upkeep.
type Task struct {
	// Name says what the task does, in a few words, for the log: a failed
	// "retention run" is logged as "retention run failed; will retry".
	Name string
	// When is the keyring state the task runs in.
	When When
	// Every is, for a WhileUnsealed task, how long to wait after a success
	// before running it again; zero runs it at every pass.
	Every time.Duration
	// Run does the work once. An error is a failure: the loop logs it and
	// runs the task again at the next pass.
	Run func(ctx context.Context) error
}

// DefaultInterval is the time between two passes when nothing wakes the
// loop.
const DefaultInterval = 5 * time.Second

// Loop runs its tasks in order, one pass at a time: when it starts, every
// Interval, and at once when woken. A task runs only in the keyring state
// it asks for, and the keyring's state is read again before each task, so
// sealing stops key work from the next task on (a task that does key work
// in batches checks between batches).
//
// A task that fails is logged, with its name and error, and runs again at
// the next pass; a failure because the keyring was sealed under it, or
// because the loop is stopping, is not logged. No task runs while another
// does.
type Loop struct {
	// Interval is the time between passes (DefaultInterval). Set it before
	// Run.
	Interval time.Duration

	keys  Keys
	log   *slog.Logger
	tasks []Task
	state []state // one per task; touched only by Run
	wake  chan struct{}
	now   func() time.Time
}

// state is where one task stands.
type state struct {
	done     bool      // OnceUnsealed: succeeded since the keyring was last seen sealed
	next     time.Time // not before this: after a success, Every; after failures, a backoff
	failures int       // failures in a row
}

// backoff is how long a task waits after its failures-th failure in a row:
// the interval, doubling, at most a minute (or its Every, if longer), so a
// task that keeps failing (a store down, a log that cannot be read) is not
// run — and its work redone and logged — at every pass.
func (l *Loop) backoff(t Task, failures int) time.Duration {
	return min(l.Interval<<min(failures-1, 10), max(t.Every, time.Minute))
}

// New returns a loop over tasks, run in the order given.
func New(keys Keys, log *slog.Logger, tasks ...Task) *Loop {
	return &Loop{Interval: DefaultInterval, keys: keys, log: log, tasks: tasks, state: make([]state, len(tasks)),
		wake: make(chan struct{}, 1), now: time.Now}
}

// Wake starts a pass at once, or right after the pass in progress. It
// never blocks, and any goroutine may call it: the rotation service when a
// rotation starts, the key ceremony when the keyring is unsealed.
func (l *Loop) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Run runs passes until ctx is cancelled, and returns once the pass in
// progress has stopped. Call it once: a loop's tasks are not run
// concurrently with themselves.
func (l *Loop) Run(ctx context.Context) {
	tick := time.NewTicker(l.Interval)
	defer tick.Stop()
	for {
		l.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-tick.C:
		}
	}
}

// pass runs every task that is due, in order.
func (l *Loop) pass(ctx context.Context) {
	for i, t := range l.tasks {
		if ctx.Err() != nil {
			return
		}
		st := &l.state[i]
		if !l.due(t, st) {
			continue
		}
		err := t.Run(ctx)
		switch {
		case err == nil:
			st.done, st.failures, st.next = true, 0, time.Time{}
			if t.Every > 0 {
				st.next = l.now().Add(t.Every)
			}
		case ctx.Err() != nil, candor.Is(err, candor.Sealed):
			// Stopping, or sealed under it: it runs again when it can.
		default:
			st.failures++
			wait := l.backoff(t, st.failures)
			st.next = l.now().Add(wait)
			l.log.Error(t.Name+" failed; will retry", "err", err, "in", wait)
		}
	}
}

// due says whether t runs now, and forgets a OnceUnsealed task's success
// once the keyring is sealed.
func (l *Loop) due(t Task, st *state) bool {
	sealed := l.keys.Sealed()
	switch t.When {
	case WhileSealed:
		return sealed
	case OnceUnsealed:
		if sealed {
			st.done = false
		}
		return !sealed && !st.done && !l.now().Before(st.next)
	default:
		return !sealed && !l.now().Before(st.next)
	}
}
