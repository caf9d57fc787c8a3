package upkeep

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// rewrapper holds each region's data keys still wrapped by an old key
// version; a region in broken fails.
type rewrapper struct {
	keys
	pending  map[candor.RegionID]int
	broken   candor.RegionID
	sealFrom int // seal the keyring after this many batches (0: never)
	batches  int
}

func (r *rewrapper) RewrapBatch(_ context.Context, region candor.RegionID, n int) (int, int, error) {
	if region == r.broken {
		return 0, 0, errors.New("disk full")
	}
	r.batches++
	if r.sealFrom > 0 && r.batches >= r.sealFrom {
		r.sealed.Store(true)
	}
	done := min(n, r.pending[region])
	r.pending[region] -= done
	return done, r.pending[region], nil
}

// Rewrap finishes every region's rotation in batches, logs each region it
// finishes, names a region that fails without holding up the others, and
// stops between batches once the keyring is sealed.
func TestRewrap(t *testing.T) {
	var lg bytes.Buffer
	keys := &rewrapper{pending: map[candor.RegionID]int{"in": 2500, "us": 0}, broken: "sg"}
	err := Rewrap(keys, []candor.RegionID{"sg", "in", "us"}, textLog(&lg)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "region sg: disk full") {
		t.Errorf("error %v, want region sg's", err)
	}
	if keys.pending["in"] != 0 || keys.batches != 4 {
		t.Errorf("in: %d left after %d batches, want 0 after 3 (and 1 for us)", keys.pending["in"], keys.batches)
	}
	out := lg.String()
	if !strings.Contains(out, "region=in rewrapped=2500") || strings.Contains(out, "region=us") {
		t.Errorf("log:\n%s", out)
	}

	sealing := &rewrapper{pending: map[candor.RegionID]int{"in": 5000}, sealFrom: 2}
	if err := Rewrap(sealing, []candor.RegionID{"in"}, textLog(&lg)).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sealing.batches != 2 || sealing.pending["in"] != 3000 {
		t.Errorf("sealed after batch 2: %d batches ran, %d keys left", sealing.batches, sealing.pending["in"])
	}
}

// verifier has one report (or error) per log.
type verifier struct {
	reports map[string]audit.Report
	errs    map[string]error
}

func (v verifier) Names() []string { return []string{"directory", "in", "us"} }
func (v verifier) Verify(_ context.Context, log string) (audit.Report, error) {
	return v.reports[log], v.errs[log]
}

// VerifyLogs reports a tampered log loudly and goes on; a log it could
// not read fails the task, so it runs again.
func TestVerifyLogs(t *testing.T) {
	var lg bytes.Buffer
	v := verifier{
		reports: map[string]audit.Report{"directory": {OK: true}, "in": {BadEntry: 7, Problem: "hash mismatch"}, "us": {}},
		errs:    map[string]error{"us": errors.New("database is locked")},
	}
	err := VerifyLogs(v, textLog(&lg)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "log us: database is locked") {
		t.Errorf("error %v, want log us's", err)
	}
	out := lg.String()
	if strings.Count(out, "AUDIT LOG TAMPERED") != 1 || !strings.Contains(out, "log=in bad_entry=7") {
		t.Errorf("log:\n%s", out)
	}
}

// checkpointer fails on one log.
type checkpointer struct {
	broken string
	signed []string
}

func (c *checkpointer) Names() []string { return []string{"directory", "in", "us"} }
func (c *checkpointer) Checkpoint(_ context.Context, log string) (store.Checkpoint, error) {
	if log == c.broken {
		return store.Checkpoint{}, errors.New("sealed signing key")
	}
	c.signed = append(c.signed, log)
	return store.Checkpoint{}, nil
}

// SignCheckpoints signs every log and stops at the first that fails.
func TestSignCheckpoints(t *testing.T) {
	c := &checkpointer{broken: "in"}
	task := SignCheckpoints(c)
	if err := task.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "log in") {
		t.Errorf("error %v, want log in's", err)
	}
	if strings.Join(c.signed, ",") != "directory" {
		t.Errorf("signed %v after a failure on in", c.signed)
	}
	c.broken, c.signed = "", nil
	if err := task.Run(context.Background()); err != nil || len(c.signed) != 3 {
		t.Errorf("signed %v, %v", c.signed, err)
	}
}

// moving has accounts left moving, and a job that may be running.
type moving struct {
	entries []store.Entry
	running bool
	asked   bool
}

func (m *moving) MovingAccounts(context.Context) ([]store.Entry, error) {
	m.asked = true
	return m.entries, nil
}
func (m *moving) Running(context.Context) (bool, error) { return m.running, nil }

// WarnMoving tells the operator how to resume moves that stopped, and
// says nothing while a migration runs or when nothing is left moving.
func TestWarnMoving(t *testing.T) {
	for _, c := range []struct {
		name    string
		m       moving
		warning bool
	}{
		{"left moving", moving{entries: make([]store.Entry, 2)}, true},
		{"a migration runs", moving{entries: make([]store.Entry, 2), running: true}, false},
		{"nothing moving", moving{}, false},
	} {
		var lg bytes.Buffer
		if err := WarnMoving(&c.m, &c.m, textLog(&lg)).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(lg.String(), "migrate --resume"); got != c.warning || (c.m.running && c.m.asked) {
			t.Errorf("%s: warned %v, asked the directory %v:\n%s", c.name, got, c.m.asked, lg.String())
		}
	}
}

// expirer expires a count per region, failing in one.
type expirer map[candor.RegionID]int

func (e expirer) Expire(_ context.Context, region candor.RegionID) (int, error) {
	if n, ok := e[region]; ok {
		return n, nil
	}
	return 0, errors.New("no store")
}

// ExpireUploads logs what it deleted in each region and goes on past a
// region that fails.
func TestExpireUploads(t *testing.T) {
	var lg bytes.Buffer
	err := ExpireUploads(expirer{"in": 3, "us": 0}, []candor.RegionID{"sg", "in", "us"}, textLog(&lg)).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "region sg: no store") {
		t.Errorf("error %v", err)
	}
	if out := lg.String(); !strings.Contains(out, "region=in count=3") || strings.Contains(out, "region=us") {
		t.Errorf("log:\n%s", out)
	}
	if err := ExpireMessages(expirer{"in": 1}, []candor.RegionID{"in"}).Run(context.Background()); err != nil {
		t.Error(err)
	}
}

// takeover takes a job over once, and then finds none.
type takeover struct{ calls int }

func (t *takeover) TakeOver(context.Context) (bool, error) {
	t.calls++
	if t.calls > 2 {
		return false, errors.New("directory down")
	}
	return t.calls == 1, nil
}

// TakeOverMigrations asks at every pass and fails only when the directory
// does.
func TestTakeOverMigrations(t *testing.T) {
	jobs := &takeover{}
	task := TakeOverMigrations(jobs)
	if task.When != WhileUnsealed || task.Every != 0 {
		t.Errorf("runs %v every %v, want at every pass while unsealed", task.When, task.Every)
	}
	for i, want := range []bool{false, false, true} {
		if err := task.Run(context.Background()); (err != nil) != want {
			t.Errorf("pass %d: %v", i+1, err)
		}
	}
}

type reloader struct{ n int }

func (r *reloader) ReloadKEKs(context.Context) error { r.n++; return nil }

// ReloadKeys reloads the key versions once a minute while unsealed.
func TestReloadKeys(t *testing.T) {
	r := &reloader{}
	task := ReloadKeys(r)
	if task.When != WhileUnsealed || task.Every != time.Minute {
		t.Errorf("runs %v every %v, want every minute while unsealed", task.When, task.Every)
	}
	if err := task.Run(context.Background()); err != nil || r.n != 1 {
		t.Errorf("reloaded %d times: %v", r.n, err)
	}
}
