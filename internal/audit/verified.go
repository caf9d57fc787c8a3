package audit

import (
	"context"
	"sync"
	"time"

	"github.com/candorcloud/candor/internal/store"
)

// Verified is a log's last verification: when it finished, whether the log
// was intact, and if not what was wrong.
type Verified struct {
	Time    time.Time
	OK      bool
	Problem string
}

// verifications remembers the last verification of each log, in memory:
// whether it ran from the upkeep loop or on a staff member's demand. A
// restart forgets them until the upkeep verifies again (once after each
// unseal).
type verifications struct {
	mu   sync.Mutex
	last map[string]Verified
}

func (v *verifications) remember(log string, r Report, at time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last = map[string]Verified{}
	}
	v.last[log] = Verified{Time: at.UTC(), OK: r.OK, Problem: r.Problem}
}

// LastVerified returns the last verification of a log that this process
// finished; ok is false if none did.
func (l *Logs) LastVerified(log string) (v Verified, ok bool) {
	l.verified.mu.Lock()
	defer l.verified.mu.Unlock()
	v, ok = l.verified.last[log]
	return v, ok
}

// Size is the number of entries in a log; NotFound for an unknown log.
func (l *Logs) Size(ctx context.Context, log string) (int64, error) {
	lg, err := l.log(log)
	if err != nil {
		return 0, err
	}
	return lg.AuditSize(ctx)
}

// LastCheckpoint returns a log's last signed checkpoint as stored; ok is
// false if none was signed yet. Unlike Checkpoint it signs nothing.
func (l *Logs) LastCheckpoint(ctx context.Context, log string) (c store.Checkpoint, ok bool, err error) {
	lg, err := l.log(log)
	if err != nil {
		return store.Checkpoint{}, false, err
	}
	cs, err := lg.Checkpoints(ctx)
	if err != nil || len(cs) == 0 {
		return store.Checkpoint{}, false, err
	}
	return cs[len(cs)-1], true, nil
}
