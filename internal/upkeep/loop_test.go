package upkeep

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
)

// keys is a keyring's sealed state, switched by the test.
type keys struct{ sealed atomic.Bool }

func (k *keys) Sealed() bool { return k.sealed.Load() }

// textLog logs to b as text.
func textLog(b *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// counter counts a task's runs; fail, when set, decides each run's result.
type counter struct {
	n    atomic.Int32
	fail func(run int32) error
}

func (c *counter) task(name string, when When) Task {
	return Task{Name: name, When: when, Run: func(context.Context) error {
		n := c.n.Add(1)
		if c.fail != nil {
			return c.fail(n)
		}
		return nil
	}}
}

func (c *counter) runs() int { return int(c.n.Load()) }

// running starts a loop over tasks and returns it with a function that
// waits for the end of its next pass and one that stops it (it is stopped
// when the test ends anyway). Its passes come only from Wake unless
// interval is short.
func running(t *testing.T, k Keys, lg *slog.Logger, interval time.Duration, tasks ...Task) (l *Loop, passEnded, stop func()) {
	t.Helper()
	passed := make(chan struct{}, 100)
	end := func(context.Context) error {
		select {
		case passed <- struct{}{}:
		default: // 100 passes not waited for yet: the waiter is not short of one
		}
		return nil
	}
	tasks = append(tasks, Task{Name: "end of pass, sealed", When: WhileSealed, Run: end},
		Task{Name: "end of pass, unsealed", Run: end})
	l = New(k, lg, tasks...)
	l.Interval = interval
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return l, func() {
		t.Helper()
		select {
		case <-passed:
		case <-time.After(5 * time.Second):
			t.Fatal("no pass ended within 5 s")
		}
	}, stop
}

// A task that fails is logged with its name and error and runs again at
// the next pass until it succeeds; then it waits its Every.
func TestFailedTaskIsRetriedAndLogged(t *testing.T) {
	var lg bytes.Buffer
	flaky := &counter{fail: func(run int32) error {
		if run <= 2 {
			return errors.New("the store did not answer")
		}
		return nil
	}}
	task := flaky.task("tidying up", WhileUnsealed)
	task.Every = time.Hour
	_, passEnded, stop := running(t, &keys{}, textLog(&lg), time.Millisecond, task)
	for range 10 {
		passEnded()
	}
	stop()
	if flaky.runs() != 3 {
		t.Errorf("the task ran %d times, want 3: twice failing, once succeeding, then not within its hour", flaky.runs())
	}
	out := lg.String()
	if n := strings.Count(out, `msg="tidying up failed; will retry" err="the store did not answer"`); n != 2 {
		t.Errorf("%d failures logged, want 2:\n%s", n, out)
	}
}

// A task that fails because the keyring was sealed under it is not logged,
// and runs again once the keyring is unsealed.
func TestSealedUnderATaskIsNotAFailure(t *testing.T) {
	var lg bytes.Buffer
	k := &keys{}
	work := &counter{fail: func(run int32) error {
		if run == 1 {
			k.sealed.Store(true)
			return candor.ErrSealed
		}
		return nil
	}}
	l, passEnded, stop := running(t, k, textLog(&lg), time.Hour, work.task("key work", OnceUnsealed))
	passEnded()
	l.Wake()
	passEnded()
	if work.runs() != 1 {
		t.Fatalf("key work ran %d times while sealed", work.runs())
	}
	k.sealed.Store(false)
	l.Wake()
	passEnded()
	if work.runs() != 2 {
		t.Errorf("key work ran %d times after the unseal, want 2", work.runs())
	}
	stop()
	if out := lg.String(); out != "" {
		t.Errorf("logged: %s", out)
	}
}

// While the keyring is sealed no task that needs keys runs, and sealing in
// the middle of a pass stops key work from the next task on. Tasks meant
// for the sealed state run while sealed; a OnceUnsealed task runs again
// after each unseal.
func TestSealingStopsKeyWork(t *testing.T) {
	k := &keys{}
	k.sealed.Store(true)
	var key, once, lock counter
	l, passEnded, _ := running(t, k, slog.New(slog.DiscardHandler), time.Hour,
		key.task("key work", WhileUnsealed), once.task("after unseal", OnceUnsealed), lock.task("lock", WhileSealed))
	step := func(sealed bool, wantKey, wantOnce, wantLock int) {
		t.Helper()
		k.sealed.Store(sealed)
		l.Wake()
		passEnded()
		if key.runs() != wantKey || once.runs() != wantOnce || lock.runs() != wantLock {
			t.Fatalf("sealed %v: key work %d, after unseal %d, lock %d; want %d, %d, %d",
				sealed, key.runs(), once.runs(), lock.runs(), wantKey, wantOnce, wantLock)
		}
	}
	passEnded() // the first pass, sealed
	step(true, 0, 0, 2)
	step(false, 1, 1, 2)
	step(false, 2, 1, 2)
	step(true, 2, 1, 3)
	step(false, 3, 2, 3)

	// Sealed by the first task of a pass: the second does not run.
	var sealer, after counter
	sealer.fail = func(int32) error { k.sealed.Store(true); return nil }
	k.sealed.Store(false)
	_, passEnded, _ = running(t, k, slog.New(slog.DiscardHandler), time.Hour,
		sealer.task("seals", WhileUnsealed), after.task("key work", WhileUnsealed))
	passEnded()
	if sealer.runs() != 1 || after.runs() != 0 {
		t.Errorf("sealed mid-pass: the sealing task ran %d times, the next %d; want 1 and 0", sealer.runs(), after.runs())
	}
}

// Wake starts a pass at once rather than at the next interval.
func TestWakeRunsAtOnce(t *testing.T) {
	var work counter
	l, passEnded, _ := running(t, &keys{}, slog.New(slog.DiscardHandler), time.Hour, work.task("work", WhileUnsealed))
	passEnded()
	start := time.Now()
	l.Wake()
	passEnded()
	if work.runs() != 2 {
		t.Fatalf("ran %d times", work.runs())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("woken pass started after %v", d)
	}
	l.Wake() // never blocks, even twice before the loop takes one
	l.Wake()
	passEnded()
}

// A task with Every runs again once that long has passed since its last
// success, and not before.
func TestEvery(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var work counter
	task := work.task("hourly", WhileUnsealed)
	task.Every = time.Hour
	l := New(&keys{}, slog.New(slog.DiscardHandler), task)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	l.pass(ctx)
	now = now.Add(59 * time.Minute)
	l.pass(ctx)
	if work.runs() != 1 {
		t.Fatalf("ran %d times within the hour", work.runs())
	}
	now = now.Add(time.Minute)
	l.pass(ctx)
	if work.runs() != 2 {
		t.Fatalf("ran %d times after the hour", work.runs())
	}
}

// A task that keeps failing waits longer and longer, up to a minute (or
// its own Every), instead of running — and redoing and logging its work —
// at every pass.
func TestBackoff(t *testing.T) {
	l := &Loop{Interval: 5 * time.Second}
	for _, tc := range []struct {
		every    time.Duration
		failures int
		want     time.Duration
	}{
		{0, 1, 5 * time.Second},
		{0, 2, 10 * time.Second},
		{0, 4, 40 * time.Second},
		{0, 5, time.Minute},
		{0, 500, time.Minute},
		{time.Hour, 5, 80 * time.Second},
		{time.Hour, 50, time.Hour},
	} {
		if got := l.backoff(Task{Every: tc.every}, tc.failures); got != tc.want {
			t.Errorf("backoff(every %s, %d failures) = %s, want %s", tc.every, tc.failures, got, tc.want)
		}
	}
}
