package region_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/blobs"
	"github.com/candorcloud/candor/internal/blobs/disk"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

// flaky is a blob store that fails every Put after the first n: a crash in
// the middle of copying.
type flaky struct {
	blobs.Store
	n    int64
	puts atomic.Int64
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.puts.Add(1) > f.n {
		return errors.New("crash")
	}
	return f.Store.Put(ctx, key, r, size)
}

type world struct {
	env     *keyringtest.Env
	dir     *sqlstore.DirectoryStore
	regions map[candor.RegionID]store.Region
	blobs   map[candor.RegionID]blobs.Store
	keys    *keyring.Keyring
	logs    *audit.Logs
}

func newWorld(t testing.TB) *world {
	t.Helper()
	env := keyringtest.New(t, "in", "sg")
	env.Unseal(t)
	w := &world{env: env, dir: env.Dir, regions: map[candor.RegionID]store.Region{}, blobs: map[candor.RegionID]blobs.Store{}, keys: env.Keys, logs: env.Logs}
	for id, r := range env.Regions {
		b, err := disk.New(filepath.Join(t.TempDir(), string(id)+"-blobs"))
		if err != nil {
			t.Fatal(err)
		}
		w.regions[id], w.blobs[id] = r, b
	}
	return w
}

// seed makes an account in region in with sealed records and a blob, and
// returns what a reader must find after any move.
func (w *world) seed(t testing.TB, n int) (candor.AccountID, seal.Key, [][]byte) {
	t.Helper()
	ctx := context.Background()
	a := candor.NewAccountID()
	in := w.regions["in"]
	if err := in.CreateAccount(ctx, store.Account{ID: a, Country: "IN", Salt: make([]byte, 16), AuthHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := w.dir.CreateEntry(ctx, store.Entry{Account: a, Handle: []byte(a), Region: "in"}); err != nil {
		t.Fatal(err)
	}
	ev, err := in.AppendConsent(ctx, storetest.Logged(), store.ConsentEvent{Account: a, Category: candor.Notes, On: true, Device: "dev", Time: time.Now(), PolicyVersion: "t"})
	if err != nil {
		t.Fatal(err)
	}
	key, err := w.keys.EnsureDataKey(ctx, "in", a, candor.Notes, ev.Seq)
	if err != nil {
		t.Fatal(err)
	}
	var plain [][]byte
	var changes []store.Change
	for i := range n {
		p := []byte(fmt.Sprintf("note %d", i))
		plain = append(plain, p)
		changes = append(changes, store.Change{ID: candor.NewRecordID(), Version: 1, Ciphertext: key.Seal(p, nil)})
	}
	if _, err := in.ApplyChanges(ctx, storetest.Logged(), a, candor.Notes, ev.Seq, changes); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		k := fmt.Sprintf("accounts/%s/photos/pho_%d/part-000000", lower(a), i)
		if err := w.blobs["in"].Put(ctx, k, bytes.NewReader([]byte("sealed-bytes")), 12); err != nil {
			t.Fatal(err)
		}
	}
	return a, key, plain
}

func lower(a candor.AccountID) string { return string(bytes.ToLower([]byte(a))) }

// readAll opens every record of the account where the directory says it
// lives, with the keyring, as the server would.
func (w *world) readAll(t *testing.T, a candor.AccountID) [][]byte {
	t.Helper()
	ctx := context.Background()
	e, err := w.dir.Entry(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	key, epoch, err := w.keys.DataKey(ctx, e.Region, a, candor.Notes)
	if err != nil {
		t.Fatalf("data key in %s: %v", e.Region, err)
	}
	recs, err := w.regions[e.Region].Changes(ctx, storetest.Logged(), a, candor.Notes, epoch, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, r := range recs {
		p, err := key.Open(r.Ciphertext, nil)
		if err != nil {
			t.Fatalf("a record does not open after the move: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// A move interrupted at any step and run again leaves every record in the
// target exactly once, readable, and nothing in the source.
func TestMoveIsResumable(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a, _, want := w.seed(t, 200)
	crashing := &flaky{Store: w.blobs["sg"], n: 1}
	bl := map[candor.RegionID]blobs.Store{"in": w.blobs["in"], "sg": crashing}
	m := region.NewMigrator(w.dir, w.regions, bl, w.keys, w.logs)
	if _, err := m.MoveAccount(ctx, a, "sg"); err == nil {
		t.Fatal("the crash did not stop the move")
	}
	e, _ := w.dir.Entry(ctx, a)
	if e.Region != "in" || e.Moving != "sg" {
		t.Fatalf("after the crash: %+v", e)
	}
	// Meanwhile a blob the first run copied is deleted in the source: the
	// copy in the target must go too.
	stale := "accounts/" + lower(a) + "/stale"
	if err := w.blobs["sg"].Put(ctx, stale, bytes.NewReader([]byte("old")), 3); err != nil {
		t.Fatal(err)
	}
	// Run again, now without crashing.
	m = region.NewMigrator(w.dir, w.regions, w.blobs, w.keys, w.logs)
	mv, err := m.MoveAccount(ctx, a, "sg")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Records != 200 || mv.Blobs != 3 || mv.Keys != 1 {
		t.Fatalf("moved %+v", mv)
	}
	if keys, _ := w.blobs["sg"].List(ctx, "accounts/"+lower(a)+"/"); len(keys) != 3 {
		t.Fatalf("the target holds %d blobs of the account (%v), want the source's 3", len(keys), keys)
	}
	if got := w.readAll(t, a); len(got) != len(want) {
		t.Fatalf("%d records in the target, want %d", len(got), len(want))
	}
	if _, err := w.regions["in"].ExportAccount(ctx, a); !candor.Is(err, candor.NotFound) {
		t.Fatalf("the source still holds the account: %v", err)
	}
	if keys, _ := w.blobs["in"].List(ctx, "accounts/"+lower(a)+"/"); len(keys) != 0 {
		t.Fatalf("%d blobs left in the source", len(keys))
	}
	// Running it again is harmless.
	again, err := m.MoveAccount(ctx, a, "sg")
	if err != nil || !again.Already {
		t.Fatalf("second run: %+v %v", again, err)
	}
	if got := w.readAll(t, a); len(got) != 200 {
		t.Fatalf("%d records after a second run", len(got))
	}
}

// A move interrupted after the switch finishes by cleaning the source when
// run again.
func TestMoveFinishesAfterSwitch(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a, _, _ := w.seed(t, 10)
	data, err := w.regions["in"].ExportAccount(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	for i, dk := range data.DataKeys {
		if data.DataKeys[i], err = w.keys.MoveDataKey(ctx, dk, "in", "sg"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.regions["sg"].ImportAccount(ctx, data); err != nil {
		t.Fatal(err)
	}
	if err := w.dir.SetMoving(ctx, a, "sg"); err != nil {
		t.Fatal(err)
	}
	if err := w.dir.SwitchRegion(ctx, a, "in", "sg"); err != nil {
		t.Fatal(err)
	}
	// ... crash before shredding the source.
	m := region.NewMigrator(w.dir, w.regions, w.blobs, w.keys, w.logs)
	mv, err := m.MoveAccount(ctx, a, "sg")
	if err != nil || !mv.Already {
		t.Fatalf("rerun: %+v %v", mv, err)
	}
	if _, err := w.regions["in"].ExportAccount(ctx, a); !candor.Is(err, candor.NotFound) {
		t.Fatalf("the source still holds the account: %v", err)
	}
	if got := w.readAll(t, a); len(got) != 10 {
		t.Fatalf("%d records", len(got))
	}
}

// BenchmarkMoveAccount moves an account holding 10,000 records and 48 MiB
// of photo parts between two regions (SQLite, local disk), and reports
// records/s and photo MB/s for the whole move: copy, verify, switch, shred.
func BenchmarkMoveAccount(b *testing.B) {
	ctx := context.Background()
	var elapsed time.Duration
	var records, size int64
	for range b.N {
		b.StopTimer()
		w := newWorld(b)
		a, _, _ := w.seed(b, 10000)
		part := bytes.Repeat([]byte{7}, 4<<20)
		for i := range 12 {
			k := fmt.Sprintf("accounts/%s/photos/pho_big/part-%06d", lower(a), i)
			if err := w.blobs["in"].Put(ctx, k, bytes.NewReader(part), int64(len(part))); err != nil {
				b.Fatal(err)
			}
		}
		m := region.NewMigrator(w.dir, w.regions, w.blobs, w.keys, w.logs)
		m.Settle = 0
		b.StartTimer()
		start := time.Now()
		mv, err := m.MoveAccount(ctx, a, "sg")
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		records += int64(mv.Records)
		size += mv.Bytes
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(size)/1e6/elapsed.Seconds(), "photo-MB/s")
}
