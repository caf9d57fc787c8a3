package sqlstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// TestSQLiteShreds checks the crypto-shredding promise at the level of the
// file: once a category is turned off or an account deleted, its data key
// and ciphertext are gone from the database file and its write-ahead log,
// not merely unlinked into free pages.
func TestSQLiteShreds(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "candor.db")
	r, err := OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	// Recognisable patterns; one record is larger than a page, so it
	// spills into overflow pages.
	pattern := func(tag string, n int) []byte {
		return bytes.Repeat([]byte("<"+tag+":SHRED-ME-PLEASE>"), n)
	}
	var (
		offKey, offSmall, offLarge = pattern("off-key", 2), pattern("off-small", 3), pattern("off-large", 600)
		delKey, delRecord          = pattern("del-key", 2), pattern("del-record", 40)
		keptKey, keptRecord        = pattern("kept-key", 2), pattern("kept-record", 3)
	)
	fill := func(a candor.AccountID, c candor.Category, key []byte, cts ...[]byte) {
		t.Helper()
		e, err := r.AppendConsent(ctx, store.ConsentEvent{Account: a, Category: c, On: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.CreateDataKey(ctx, store.DataKey{Account: a, Category: c, Epoch: e.Seq,
			Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: key}}); err != nil {
			t.Fatal(err)
		}
		var changes []store.Change
		for i, ct := range cts {
			changes = append(changes, store.Change{ID: string(c) + string(rune('a'+i)), Version: 1, Ciphertext: ct})
		}
		if _, err := r.ApplyChanges(ctx, a, c, e.Seq, changes); err != nil {
			t.Fatal(err)
		}
	}
	a, b := candor.AccountID("acc_a"), candor.AccountID("acc_b")
	for _, id := range []candor.AccountID{a, b} {
		if err := r.CreateAccount(ctx, store.Account{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	fill(a, candor.Contacts, offKey, offSmall, offLarge)
	fill(a, candor.Notes, keptKey, keptRecord)
	fill(b, candor.Photos, delKey, delRecord)
	checkpoint(t, r)
	for _, p := range [][]byte{offKey, offSmall, offLarge, delKey, delRecord, keptKey, keptRecord} {
		wantInFiles(t, path, p, true) // the test can see what it looks for
	}

	if _, err := r.AppendConsent(ctx, store.ConsentEvent{Account: a, Category: candor.Contacts, On: false}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteAccount(ctx, b); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, r)
	check := func() {
		t.Helper()
		for _, p := range [][]byte{offKey, offSmall, offLarge, delKey, delRecord} {
			wantInFiles(t, path, p, false)
		}
		for _, p := range [][]byte{keptKey, keptRecord} {
			wantInFiles(t, path, p, true)
		}
	}
	check()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// checkpoint copies the write-ahead log into the database file and
// truncates the log.
func checkpoint(t *testing.T, r *RegionStore) {
	t.Helper()
	var busy, logged, done int
	if err := r.db.write.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &done); err != nil {
		t.Fatal(err)
	}
	if busy != 0 {
		t.Fatal("checkpoint could not complete")
	}
}

// wantInFiles fails unless one repetition of pattern is (or is not, per
// want) in the database file or its write-ahead log.
func wantInFiles(t *testing.T, path string, pattern []byte, want bool) {
	t.Helper()
	unit := pattern[:bytes.IndexByte(pattern, '>')+1]
	found := false
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		found = found || bytes.Contains(b, unit)
	}
	if found != want {
		t.Fatalf("%s in the files: %v, want %v", unit, found, want)
	}
}
