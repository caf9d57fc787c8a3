package erasure_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
)

// A chain derives the same key for a period whatever period it stands
// at; once advanced, it cannot give the keys before.
func TestChain(t *testing.T) {
	seed := make([]byte, erasure.KeySize)
	rand.Read(seed)
	c, err := erasure.NewChain(10, seed)
	if err != nil {
		t.Fatal(err)
	}
	k12, err := c.Key(12)
	if err != nil {
		t.Fatal(err)
	}
	if k10, _ := c.Key(10); !bytes.Equal(k10, seed) || bytes.Equal(k12, seed) {
		t.Fatal("the key of the chain's own period is its seed; later ones differ")
	}
	later, err := c.Advance(11)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := later.Key(12); err != nil || !bytes.Equal(k, k12) {
		t.Fatalf("an advanced chain derives another key for period 12: %v", err)
	}
	for _, q := range []int64{10, 9, -1} {
		if _, err := later.Key(q); !candor.Is(err, candor.NotFound) {
			t.Fatalf("period %d after advancing to 11: %v, want erased", q, err)
		}
	}
	if same, _ := later.Advance(5); same.Period != 11 {
		t.Fatal("advancing backwards moved the chain")
	}
	if _, err := erasure.NewChain(1, seed[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

// The folder: nothing stored at first; one Create wins among many racing,
// the others get Conflict; Replace overwrites the one file in place (same
// inode, same size, the old bytes gone); the file is 0600 in a 0700
// folder; a file not in the format is refused.
func TestFolder(t *testing.T) {
	ctx := t.Context()
	f := erasure.Folder(filepath.Join(t.TempDir(), "erasure"))
	if _, _, err := f.Load(ctx); !candor.Is(err, candor.NotFound) {
		t.Fatalf("empty folder: %v", err)
	}
	sealedKey := func() []byte { b := make([]byte, 61); rand.Read(b); return b }
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	var winner []byte
	for range 16 {
		wg.Go(func() {
			b := sealedKey()
			err := f.Create(ctx, 100, b)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won, winner = won+1, b
			case candor.Is(err, candor.Conflict):
				lost++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != 15 {
		t.Fatalf("%d creates won, %d lost; want 1 and 15", won, lost)
	}
	p, got, err := f.Load(ctx)
	if err != nil || p != 100 || !bytes.Equal(got, winner) {
		t.Fatalf("load: period %d, %v; want the winner's", p, err)
	}
	path := filepath.Join(string(f), "erasure-key")
	before, _ := os.Stat(path)
	next := sealedKey()
	if err := f.Replace(ctx, 101, next); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino || before.Size() != after.Size() {
		t.Fatal("the replacement is a new file: the old key's blocks were freed, not overwritten")
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, winner) {
		t.Fatal("the replaced key is still in the file")
	}
	if p, got, err := f.Load(ctx); err != nil || p != 101 || !bytes.Equal(got, next) {
		t.Fatalf("after replace: period %d, %v", p, err)
	}
	if after.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", after.Mode().Perm())
	}
	if st, _ := os.Stat(string(f)); st.Mode().Perm() != 0o700 {
		t.Fatalf("folder mode %v, want 0700", st.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Load(ctx); !candor.Is(err, candor.Integrity) {
		t.Fatalf("a file not in the format: %v", err)
	}
}

// Periods are counted from the Unix epoch; a period ends where the next
// begins.
func TestClock(t *testing.T) {
	now := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
	c := erasure.Clock{Length: 24 * time.Hour, Now: func() time.Time { return now }}
	p := c.Period()
	if p != now.Unix()/86400 {
		t.Fatalf("period %d", p)
	}
	if end := c.End(p); !end.Equal(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("end %v", end)
	}
}
