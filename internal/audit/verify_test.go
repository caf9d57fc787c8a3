package audit_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/store"
)

// A log as Candor wrote it verifies, whatever its size and wherever it was
// signed, in the directory as in a region.
func TestVerifyHealthyLogs(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		for _, tt := range []struct {
			size        int64
			checkpoints []int64
		}{
			{0, nil},
			{0, []int64{0}},
			{1, []int64{1}},
			{2, []int64{1, 2}},
			{3, []int64{1, 2, 3}},
			{5, nil},
			{7, []int64{4, 7}},
			{8, []int64{8}},
			{9, []int64{8, 9}},
			{100, []int64{1, 50, 64, 100}},
		} {
			d := open(t, keys("deployment"))
			for _, log := range []string{region, audit.Directory} {
				d.grow(t, log, tt.size, tt.checkpoints...)
				r, err := d.logs.Verify(t.Context(), log)
				if err != nil {
					t.Fatalf("Verify(%s) at size %d: %v", log, tt.size, err)
				}
				want := audit.Report{Log: log, Size: tt.size, Checkpoints: len(tt.checkpoints), OK: true, BadEntry: -1}
				if r != want {
					t.Errorf("Verify(%s) at size %d, signed at %v = %+v, want %+v", log, tt.size, tt.checkpoints, r, want)
				}
			}
		}
	})
}

// damage is a change made to a log's database behind Candor's back, and
// what Verify must say of it: the first bad entry (-1 when the fault is
// no entry's) and, in part, the problem.
type damage struct {
	name        string
	size        int64   // entries Candor appended
	checkpoints []int64 // the sizes at which Candor signed
	tamper      func(t *testing.T, d *deployment)
	bad         int64
	problem     string
}

// edited is entry i's data with its outcome changed: still an event, no
// longer the one logged.
func edited(t *testing.T, d *deployment, i int64) []byte {
	t.Helper()
	e, err := audit.Decode(d.entry(t, i))
	if err != nil {
		t.Fatal(err)
	}
	e.Outcome = audit.Denied
	return e.Encode()
}

func setEntry(i int64, data func(t *testing.T, d *deployment) []byte) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		d.exec(t, `UPDATE audit_entries SET data = ? WHERE idx = ?`, data(t, d), i)
	}
}

func deleteEntry(i int64) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) { d.exec(t, `DELETE FROM audit_entries WHERE idx = ?`, i) }
}

// setHash overwrites the stored hash of the tree node (level, n).
func setHash(level int, n int64, h []byte) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		d.exec(t, `UPDATE audit_hashes SET hash = ? WHERE idx = ?`, h, tlog.StoredHashIndex(level, n))
	}
}

func setHead(size int64) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) { d.exec(t, `UPDATE audit_head SET size = ?`, size) }
}

// appendEntry adds entry i as a row, without its stored hashes.
func appendEntry(i int64) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		d.exec(t, `INSERT INTO audit_entries (idx, account, data) VALUES (?, NULL, ?)`, i, event(i).Encode())
	}
}

// truncate cuts the log back to its first n entries, leaving it internally
// consistent: the entries, their stored hashes and the head agree.
func truncate(n int64) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		d.exec(t, `DELETE FROM audit_entries WHERE idx >= ?`, n)
		d.exec(t, `DELETE FROM audit_hashes WHERE idx >= ?`, tlog.StoredHashIndex(0, n))
		d.exec(t, `UPDATE audit_head SET size = ?`, n)
	}
}

// setNote overwrites the note of the checkpoint at size.
func setNote(size int64, note func(t *testing.T, d *deployment, old []byte) []byte) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		var old []byte
		if err := d.raw.QueryRowContext(t.Context(), d.rebind(`SELECT note FROM audit_checkpoints WHERE size = ?`), size).Scan(&old); err != nil {
			t.Fatal(err)
		}
		d.exec(t, `UPDATE audit_checkpoints SET note = ? WHERE size = ?`, note(t, d, old), size)
	}
}

func all(steps ...func(t *testing.T, d *deployment)) func(t *testing.T, d *deployment) {
	return func(t *testing.T, d *deployment) {
		for _, s := range steps {
			s(t, d)
		}
	}
}

var zeroHash = make([]byte, tlog.HashSize)

var damages = []damage{
	// Entries.
	{
		name: "an entry's data edited", size: 10, checkpoints: []int64{4, 10},
		tamper: setEntry(6, func(t *testing.T, d *deployment) []byte { return edited(t, d, 6) }),
		bad:    6, problem: "entry 6 does not match the stored tree",
	},
	{
		name: "an entry replaced by bytes that are no event", size: 10, checkpoints: []int64{4, 10},
		tamper: setEntry(6, func(*testing.T, *deployment) []byte { return []byte("nothing happened") }),
		bad:    6, problem: "entry 6 is not a well-formed event",
	},
	{
		name: "an entry deleted", size: 10, checkpoints: []int64{4, 10},
		tamper: deleteEntry(3),
		bad:    3, problem: "entry 3 is missing",
	},
	{
		name: "the last entry deleted", size: 10, checkpoints: []int64{4, 10},
		tamper: deleteEntry(9),
		bad:    9, problem: "entry 9 is missing",
	},
	{
		name: "the first entry deleted", size: 10, checkpoints: []int64{4, 10},
		tamper: deleteEntry(0),
		bad:    0, problem: "entry 0 is missing",
	},
	{
		name: "two entries swapped", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			d.exec(t, `UPDATE audit_entries SET idx = -1 WHERE idx = 2`)
			d.exec(t, `UPDATE audit_entries SET idx = 2 WHERE idx = 5`)
			d.exec(t, `UPDATE audit_entries SET idx = 5 WHERE idx = -1`)
		},
		bad: 2, problem: "entry 2 does not match the stored tree",
	},
	{
		name: "an entry inserted in the middle", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			d.exec(t, `UPDATE audit_entries SET idx = -idx - 1 WHERE idx >= 5`)
			d.exec(t, `UPDATE audit_entries SET idx = -idx WHERE idx < 0`)
			d.exec(t, `INSERT INTO audit_entries (idx, account, data) VALUES (5, NULL, ?)`, event(100).Encode())
			d.exec(t, `UPDATE audit_head SET size = 11`)
		},
		bad: 5, problem: "entry 5 does not match the stored tree",
	},
	{
		name: "an entry edited and a later one deleted", size: 10, checkpoints: []int64{4, 10},
		tamper: all(
			setEntry(5, func(t *testing.T, d *deployment) []byte { return edited(t, d, 5) }),
			deleteEntry(8)),
		bad: 5, problem: "entry 5 does not match the stored tree",
	},
	{
		name: "an entry edited and a later one made no event", size: 10, checkpoints: []int64{4, 10},
		tamper: all(
			setEntry(5, func(t *testing.T, d *deployment) []byte { return edited(t, d, 5) }),
			setEntry(8, func(*testing.T, *deployment) []byte { return []byte("{") })),
		bad: 5, problem: "entry 5 does not match the stored tree",
	},

	// Stored hashes.
	{
		name: "an entry's stored hash edited", size: 10, checkpoints: []int64{4, 10},
		tamper: setHash(0, 7, zeroHash),
		bad:    7, problem: "entry 7 does not match the stored tree",
	},
	{
		// The hash over entries 4 and 5: the tree cannot tell which of
		// them is wrong, and names the first.
		name: "a stored hash over two entries edited", size: 10, checkpoints: []int64{4, 10},
		tamper: setHash(1, 2, zeroHash),
		bad:    4, problem: "entry 4 does not match the stored tree",
	},
	{
		name: "an entry edited with its stored hash", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			data := edited(t, d, 5)
			setEntry(5, func(*testing.T, *deployment) []byte { return data })(t, d)
			h := tlog.RecordHash(data)
			setHash(0, 5, h[:])(t, d)
		},
		bad: 4, problem: "entry 4 does not match the stored tree",
	},
	{
		name: "an entry's stored hash deleted", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM audit_hashes WHERE idx = ?`, tlog.StoredHashIndex(0, 7))
		},
		bad: 7, problem: "the stored tree hashes of entry 7 are missing",
	},

	// The head.
	{
		name: "the head's size raised", size: 10, checkpoints: []int64{4, 10},
		tamper: setHead(12),
		bad:    10, problem: "entry 10 is missing",
	},
	{
		name: "the head's size lowered", size: 10, checkpoints: []int64{4},
		tamper: setHead(8),
		bad:    8, problem: "entry 8 is stored beyond the log's size 8",
	},
	{
		name: "the head's size lowered below a checkpoint", size: 10, checkpoints: []int64{4, 10},
		tamper: setHead(8),
		bad:    8, problem: "entry 8 is stored beyond the log's size 8",
	},

	// Truncation and appends.
	{
		name: "the log truncated below a signed checkpoint", size: 10, checkpoints: []int64{4, 10},
		tamper: truncate(7),
		bad:    7, problem: "the log holds 7 entries but was signed at size 10: it was truncated",
	},
	{
		name: "an entry appended outside Candor", size: 10, checkpoints: []int64{4, 10},
		tamper: all(appendEntry(10), setHead(11)),
		bad:    10, problem: "the stored tree hashes of entry 10 are missing",
	},
	{
		name: "an entry appended outside Candor, the head left alone", size: 10, checkpoints: []int64{4, 10},
		tamper: appendEntry(10),
		bad:    10, problem: "entry 10 is stored beyond the log's size 10",
	},

	// Checkpoints.
	{
		name: "a checkpoint's note edited", size: 10, checkpoints: []int64{4, 10},
		tamper: setNote(10, func(t *testing.T, d *deployment, old []byte) []byte {
			edited := bytes.Replace(old, []byte("\n10\n"), []byte("\n11\n"), 1)
			if bytes.Equal(edited, old) {
				t.Fatalf("no size line in %q", old)
			}
			return edited
		}),
		bad: -1, problem: "checkpoint at size 10: bad signature",
	},
	{
		name: "a checkpoint signed again by another key", size: 10, checkpoints: []int64{4, 10},
		tamper: setNote(10, func(t *testing.T, d *deployment, _ []byte) []byte {
			other := newDeployment(d.dir, d.region, d.raw, d.pg, keys("another deployment"))
			c, err := other.logs.Checkpoint(t.Context(), region) // the same tree, another signature; not stored
			if err != nil {
				t.Fatal(err)
			}
			return c.Note
		}),
		bad: -1, problem: "checkpoint at size 10: bad signature",
	},
	{
		name: "the directory's checkpoint planted in the region's log", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			d.grow(t, audit.Directory, 3)
			c, err := d.logs.Checkpoint(t.Context(), audit.Directory)
			if err != nil {
				t.Fatal(err)
			}
			d.exec(t, `INSERT INTO audit_checkpoints (size, hash, note, created_us) VALUES (?, ?, ?, 0)`, c.Size, c.Hash[:], c.Note)
		},
		bad: -1, problem: "checkpoint at size 3: it is not a checkpoint of this log",
	},
	{
		name: "a checkpoint's stored hash edited", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) {
			d.exec(t, `UPDATE audit_checkpoints SET hash = ? WHERE size = 10`, zeroHash)
		},
		bad: -1, problem: "checkpoint at size 10: the signed tree is not the stored one",
	},
	{
		name: "a checkpoint moved to another size", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) { d.exec(t, `UPDATE audit_checkpoints SET size = 3 WHERE size = 4`) },
		bad:    -1, problem: "checkpoint at size 3: the signed tree is not the stored one",
	},
	{
		name: "an entry rewritten with the whole tree", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) { d.rewrite(t, 6, edited(t, d, 6)) },
		bad:    -1, problem: "checkpoint at size 10 does not match the entries: the log was rewritten",
	},
	{
		name: "an entry before the first checkpoint rewritten with the whole tree", size: 10, checkpoints: []int64{4, 10},
		tamper: func(t *testing.T, d *deployment) { d.rewrite(t, 2, edited(t, d, 2)) },
		bad:    -1, problem: "checkpoint at size 4 does not match the entries: the log was rewritten",
	},

	// Logs longer than one read (Verify reads a thousand entries at a time).
	{
		name: "an entry deleted in the third thousand", size: 2500, checkpoints: []int64{1000, 2500},
		tamper: deleteEntry(2100),
		bad:    2100, problem: "entry 2100 is missing",
	},
	{
		name: "an entry edited in the second thousand", size: 2500, checkpoints: []int64{1000, 2500},
		tamper: setEntry(1500, func(t *testing.T, d *deployment) []byte { return edited(t, d, 1500) }),
		bad:    1500, problem: "entry 1500 does not match the stored tree",
	},
	{
		name: "an entry's stored hash deleted in the second thousand", size: 2500, checkpoints: []int64{1000, 2500},
		tamper: func(t *testing.T, d *deployment) {
			d.exec(t, `DELETE FROM audit_hashes WHERE idx = ?`, tlog.StoredHashIndex(0, 1500))
		},
		bad: 1500, problem: "the stored tree hashes of entry 1500 are missing",
	},
	{
		// Stored with entry 2047, it covers entries 1024 to 2047.
		name: "a stored hash over 1024 entries edited", size: 2500, checkpoints: []int64{1000, 2500},
		tamper: setHash(10, 1, zeroHash),
		bad:    1024, problem: "entry 1024 does not match the stored tree",
	},
	{
		name: "the log truncated at a thousand below a checkpoint", size: 2500, checkpoints: []int64{1000, 2500},
		tamper: truncate(2000),
		bad:    2000, problem: "the log holds 2000 entries but was signed at size 2500: it was truncated",
	},
}

// Damage done to a log's database by anyone with write access to it is
// found, and Verify names the first bad entry, or says what else is wrong.
func TestVerifyFindsDamage(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		for _, tt := range damages {
			t.Run(tt.name, func(t *testing.T) {
				ctx := t.Context()
				d := open(t, keys("deployment"))
				d.grow(t, region, tt.size, tt.checkpoints...)
				if r, err := d.logs.Verify(ctx, region); err != nil || !r.OK {
					t.Fatalf("Verify before the damage = %+v, %v", r, err)
				}
				tt.tamper(t, d)
				r, err := d.logs.Verify(ctx, region)
				if err != nil {
					t.Fatal(err)
				}
				if r.OK || r.BadEntry != tt.bad || !strings.Contains(r.Problem, tt.problem) {
					t.Errorf("Verify = %+v\nwant bad entry %d, problem %q", r, tt.bad, tt.problem)
				}
				if r, err := d.logs.Verify(ctx, audit.Directory); err != nil || !r.OK {
					t.Errorf("the directory's log, untouched: %+v, %v", r, err)
				}
			})
		}
	})
}

// Verify runs on a live log: appends and checkpoints signed while it reads
// are no damage.
func TestVerifyWhileAppending(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		ctx := t.Context()
		d := open(t, keys("deployment"))
		d.grow(t, region, 50, 50)
		const appends = 200
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() {
			defer close(done)
			for i := int64(50); i < 50+appends; i++ {
				if err := d.logs.Append(ctx, region, event(i)); err != nil {
					t.Error(err)
					return
				}
				if _, err := d.logs.Checkpoint(ctx, region); err != nil {
					t.Error(err)
					return
				}
			}
		})
		verified := 0
		for running := true; running; verified++ {
			select {
			case <-done:
				running = false
			default:
			}
			r, err := d.logs.Verify(ctx, region)
			if err != nil || !r.OK {
				t.Errorf("Verify of a live log after %d good runs: %+v, %v", verified, r, err)
				break
			}
		}
		wg.Wait()
		t.Logf("%d verifications during %d appends", verified, appends)
	})
}

// interleaved is a real log on which, right after each read named in
// after, another instance of the deployment appends an entry and signs a
// checkpoint: the interleavings of a live server, made certain.
type interleaved struct {
	store.AuditLog
	after map[string]bool
	live  func()
}

func (l *interleaved) then(read string) {
	if l.after[read] {
		l.live()
	}
}

func (l *interleaved) AuditSize(ctx context.Context) (int64, error) {
	defer l.then("size")
	return l.AuditLog.AuditSize(ctx)
}

func (l *interleaved) Checkpoints(ctx context.Context) ([]store.Checkpoint, error) {
	defer l.then("checkpoints")
	return l.AuditLog.Checkpoints(ctx)
}

func (l *interleaved) AuditEntries(ctx context.Context, from, to int64) ([]store.AuditEntry, error) {
	defer l.then("entries")
	return l.AuditLog.AuditEntries(ctx, from, to)
}

func (l *interleaved) ReadAuditHashes(ctx context.Context, idx []int64) ([]tlog.Hash, error) {
	defer l.then("hashes")
	return l.AuditLog.ReadAuditHashes(ctx, idx)
}

// Whichever of its reads an append and a checkpoint come after, Verify
// finds a live log good, and reports the size it began with.
func TestVerifyInterleaved(t *testing.T) {
	onEachBackend(t, func(t *testing.T, open opener) {
		for _, after := range [][]string{
			{"size"},
			{"checkpoints"},
			{"entries"},
			{"hashes"},
			{"size", "checkpoints", "entries", "hashes"},
		} {
			ctx := t.Context()
			d := open(t, keys("deployment"))
			d.grow(t, region, 10, 4, 10)
			next := int64(10)
			l := &interleaved{AuditLog: d.region, after: map[string]bool{}, live: func() {
				if err := d.logs.Append(ctx, region, event(next)); err != nil {
					t.Fatal(err)
				}
				next++
				if _, err := d.logs.Checkpoint(ctx, region); err != nil {
					t.Fatal(err)
				}
			}}
			for _, read := range after {
				l.after[read] = true
			}
			verifying := audit.New(d.dir, map[candor.RegionID]store.AuditLog{region: l}, keys("deployment"), signerName)
			r, err := verifying.Verify(ctx, region)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || r.BadEntry != -1 || r.Size < 10 || r.Size > next {
				t.Errorf("Verify with appends after reading %v = %+v, want OK at a size from 10 to %d", after, r, next)
			}
		}
	})
}
