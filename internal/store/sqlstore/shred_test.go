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
	if err := r.PutKEK(ctx, store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: make([]byte, 60)}); err != nil {
		t.Fatal(err)
	}

	// Recognisable patterns; one record is larger than a page, so it
	// spills into overflow pages.
	var (
		offKey, offSmall, offLarge = pattern("off-key", 2), pattern("off-small", 3), pattern("off-large", 600)
		delKey, delRecord          = pattern("del-key", 2), pattern("del-record", 40)
		keptKey, keptRecord        = pattern("kept-key", 2), pattern("kept-record", 3)
	)
	fill := func(a candor.AccountID, c candor.Category, key []byte, cts ...[]byte) {
		t.Helper()
		e, err := r.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: c, On: true})
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
		if _, err := r.ApplyChanges(ctx, logged(), a, c, e.Seq, changes); err != nil {
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
	checkpoint(t, r.db)
	for _, p := range [][]byte{offKey, offSmall, offLarge, delKey, delRecord, keptKey, keptRecord} {
		wantInFiles(t, path, p, true) // the test can see what it looks for
	}

	if _, err := r.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: candor.Contacts, On: false}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteAccount(ctx, logged(), b); err != nil {
		t.Fatal(err)
	}
	// No checkpoint here: the store wipes the write-ahead log itself
	// before a deletion returns.
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

// pattern returns n repetitions of a recognisable unit naming tag; records
// of many repetitions spill into overflow pages.
func pattern(tag string, n int) []byte {
	return bytes.Repeat([]byte("<"+tag+":SHRED-ME-PLEASE>"), n)
}

// TestSQLiteRotationShreds checks that a key rotation leaves nothing of the
// old wrapping in the file: the rewrapped data key's old wrapped bytes and
// the deleted KEK are overwritten, not left in free space, so a file copied
// after the rotation does not hold keys under a retired (perhaps
// compromised) KEK.
func TestSQLiteRotationShreds(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "candor.db")
	r, err := OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	oldKEK, newKEK := pattern("old-kek", 2), pattern("new-kek", 2)
	oldDEK, newDEK := pattern("old-dek", 2), pattern("new-dek", 2)
	for _, k := range []store.WrappedKey{{Version: 1, Wrapper: 1, Wrapped: oldKEK}, {Version: 2, Wrapper: 1, Wrapped: newKEK}} {
		if err := r.PutKEK(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	a := candor.AccountID("acc_a")
	if err := r.CreateAccount(ctx, store.Account{ID: a}); err != nil {
		t.Fatal(err)
	}
	e, err := r.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: candor.Contacts, On: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateDataKey(ctx, store.DataKey{Account: a, Category: candor.Contacts, Epoch: e.Seq,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: oldDEK}}); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, r.db)
	for _, p := range [][]byte{oldKEK, newKEK, oldDEK} {
		wantInFiles(t, path, p, true)
	}

	if n, err := r.RewrapDataKeys(ctx, []store.Rewrap{{Account: a, Category: candor.Contacts, Epoch: e.Seq, OldWrapper: 1,
		Key: store.WrappedKey{Version: 1, Wrapper: 2, Wrapped: newDEK}}}); err != nil || n != 1 {
		t.Fatalf("RewrapDataKeys = %d, %v", n, err)
	}
	if err := r.DeleteKEK(ctx, 1); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, r.db)
	check := func() {
		t.Helper()
		wantInFiles(t, path, oldKEK, false)
		wantInFiles(t, path, oldDEK, false)
		wantInFiles(t, path, newKEK, true)
		wantInFiles(t, path, newDEK, true)
	}
	check()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestSQLiteDirectoryShreds checks the directory's half of crypto-shredding
// at the level of the file: shred secrets deleted by DeleteShredSecrets or
// DeleteEntry are gone from the database file and its write-ahead log.
func TestSQLiteDirectoryShreds(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "directory.db")
	d, err := OpenSQLiteDirectory(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, b := candor.AccountID("acc_a"), candor.AccountID("acc_b")
	put := func(a candor.AccountID, c candor.Category, epoch int64, secret []byte) {
		t.Helper()
		if _, err := d.PutShredSecret(ctx, store.ShredSecret{Account: a, Category: c, Epoch: epoch,
			Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: secret}}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		oldEpoch, keptEpoch = pattern("old-epoch", 2), pattern("kept-epoch", 2)
		offCategory         = pattern("off-category", 2)
		deleted, kept       = pattern("deleted-account", 2), pattern("kept-account", 2)
	)
	put(a, candor.Contacts, 1, oldEpoch)
	put(a, candor.Contacts, 4, keptEpoch)
	put(a, candor.Notes, 2, offCategory)
	put(b, candor.Photos, 3, deleted)
	put(candor.AccountID("acc_c"), candor.Photos, 3, kept)
	if err := d.CreateEntry(ctx, store.Entry{Account: b, Handle: []byte("handle-b"), Region: "in"}); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, d.db)
	for _, p := range [][]byte{oldEpoch, keptEpoch, offCategory, deleted, kept} {
		wantInFiles(t, path, p, true)
	}

	for _, del := range []struct {
		c    candor.Category
		keep int64
	}{{candor.Contacts, 4}, {candor.Notes, 0}} {
		if _, err := d.DeleteShredSecrets(ctx, a, del.c, del.keep); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteEntry(ctx, logged(), b); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, d.db)
	check := func() {
		t.Helper()
		for _, p := range [][]byte{oldEpoch, offCategory, deleted} {
			wantInFiles(t, path, p, false)
		}
		for _, p := range [][]byte{keptEpoch, kept} {
			wantInFiles(t, path, p, true)
		}
	}
	check()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// checkpoint copies the write-ahead log into the database file and
// truncates the log.
func checkpoint(t *testing.T, d *db) {
	t.Helper()
	var busy, logged, done int
	if err := d.write.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &done); err != nil {
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
