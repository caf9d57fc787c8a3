package sqlstore

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// folderHolds reports which of values some file under dir holds: the
// database files, their write-ahead logs and anything else there.
func folderHolds(t *testing.T, dir string, values map[string][]byte) []string {
	t.Helper()
	var found []string
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, v := range values {
			if bytes.Contains(b, v) {
				found = append(found, name+" in "+filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no files to search")
	}
	return found
}

// Once a category is turned off, or an account deleted, and the store has
// answered, no byte of what was deleted — the shred secret, the wrapped
// data key, each ciphertext, the devices, the sessions — is left in any
// file of the data folder: not in the database files, not in their
// write-ahead logs (which still held every deleted page until this was
// fixed), not in free pages. The values searched for are the cells as
// stored, read back from the database before the deletion; the test
// itself never checkpoints.
func TestDeletionReachesEveryFile(t *testing.T) {
	ctx := t.Context()
	folder := t.TempDir()
	dir, err := OpenSQLiteDirectory(filepath.Join(folder, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if err := os.MkdirAll(filepath.Join(folder, "regions", "in"), 0o700); err != nil {
		t.Fatal(err)
	}
	reg, err := OpenSQLiteRegion(filepath.Join(folder, "regions", "in", "candor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.PutKEK(ctx, store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: make([]byte, 60)}); err != nil {
		t.Fatal(err)
	}
	secret := func() []byte { return []byte(rand.Text() + rand.Text()) } // 52 random letters and digits
	cells := map[string]map[string][]byte{}
	account := func(name string) candor.AccountID {
		a := candor.NewAccountID()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(reg.CreateAccount(ctx, store.Account{ID: a, Country: "IN", Salt: secret(), AuthHash: string(secret())}))
		must(dir.CreateEntry(ctx, store.Entry{Account: a, Handle: secret(), Region: "in"}))
		dev, err := reg.RegisterDevice(ctx, logged(), store.Device{ID: candor.NewDeviceID(), Account: a, Pseudonym: secret()})
		must(err)
		sess := store.Session{TokenHash: secret(), Account: a, Device: dev.ID, Expires: time.Now().Add(time.Hour)}
		must(dir.CreateSession(ctx, sess))
		c := map[string][]byte{"device pseudonym": dev.Pseudonym, "session": sess.TokenHash}
		for _, cat := range []candor.Category{candor.Notes, candor.Contacts} {
			on, err := reg.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: cat, On: true})
			must(err)
			sh, err := dir.PutShredSecret(ctx, store.ShredSecret{Account: a, Category: cat, Epoch: on.Seq,
				Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: secret()}})
			must(err)
			k, err := reg.CreateDataKey(ctx, store.DataKey{Account: a, Category: cat, Epoch: on.Seq,
				Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: secret()}})
			must(err)
			var changes []store.Change
			for i := range 30 {
				ct := secret()
				if i == 0 {
					ct = bytes.Repeat(ct, 200) // past a page: overflow pages
				}
				changes = append(changes, store.Change{ID: candor.NewRecordID(), Version: 1, Ciphertext: ct})
			}
			_, err = reg.ApplyChanges(ctx, logged(), a, cat, on.Seq, changes)
			must(err)
			// An edit: the first version's cells are deleted content too.
			_, err = reg.ApplyChanges(ctx, logged(), a, cat, on.Seq, []store.Change{{ID: changes[1].ID, BaseVersion: 1, Version: 2, Ciphertext: secret()}})
			must(err)
			// The cells as stored, read back.
			recs, err := reg.Changes(ctx, logged(), a, cat, on.Seq, 0, 100)
			must(err)
			for i, r := range recs {
				c[string(cat)+" ciphertext "+string(rune('A'+i%26))+r.ID] = r.Ciphertext[:32]
			}
			c["old: "+string(cat)+" edited away"] = changes[1].Ciphertext
			c[string(cat)+" data key"] = k.Key.Wrapped
			c[string(cat)+" shred secret"] = sh.Key.Wrapped
		}
		cells[name] = c
		return a
	}
	optOut, deleted := account("opt-out"), account("deleted")
	account("kept")
	// of returns an account's values whose names start with prefix; the
	// versions an edit replaced ("old: ...") only where prefix asks for
	// them, since they are deleted content of every account.
	of := func(name, prefix string) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range cells[name] {
			old := bytes.HasPrefix([]byte(k), []byte("old: "))
			if bytes.HasPrefix([]byte(k), []byte(prefix)) && (!old || prefix == "old: ") {
				out[name+": "+k] = v
			}
		}
		return out
	}
	// Positive control: before, the search finds what it looks for.
	if got := folderHolds(t, folder, of("opt-out", "notes")); len(got) != len(of("opt-out", "notes")) {
		t.Fatalf("before the opt-out the search finds %d of %d values: it would prove nothing", len(got), len(of("opt-out", "notes")))
	}

	// Notes off for one account: the region's rows, then the directory's
	// half of the key, as the consent ledger does.
	if _, err := reg.AppendConsent(ctx, logged(), store.ConsentEvent{Account: optOut, Category: candor.Notes}); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.DeleteShredSecrets(ctx, optOut, candor.Notes, 0); err != nil {
		t.Fatal(err)
	}
	if got := folderHolds(t, folder, of("opt-out", "notes")); len(got) > 0 {
		t.Errorf("after notes were turned off: %v", got)
	}
	if got := folderHolds(t, folder, of("opt-out", "contacts")); len(got) != len(of("opt-out", "contacts")) {
		t.Errorf("contacts, still on, were lost: %d of %d found", len(got), len(of("opt-out", "contacts")))
	}

	// An account deleted: the directory's entry first, then the region's rows.
	if err := dir.DeleteEntry(ctx, logged(), deleted); err != nil {
		t.Fatal(err)
	}
	if err := reg.DeleteAccount(ctx, logged(), deleted); err != nil {
		t.Fatal(err)
	}
	if got := folderHolds(t, folder, of("deleted", "")); len(got) > 0 {
		t.Errorf("after the account was deleted: %v", got)
	}
	// And what edits replaced, in every account, went with the wipe.
	for _, name := range []string{"opt-out", "deleted", "kept"} {
		if got := folderHolds(t, folder, of(name, "old: ")); len(got) > 0 {
			t.Errorf("replaced versions left: %v", got)
		}
	}
	if got := folderHolds(t, folder, of("kept", "")); len(got) != len(of("kept", "")) {
		t.Errorf("another account lost data: %d of %d found", len(got), len(of("kept", "")))
	}
}

// The database files are private to their owner even when they were made
// before with a mode anyone could read (a pre-made folder, a careless
// restore), and a new one is never readable by others, not even at first.
func TestFilesArePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.db")
	first, err := OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	wantPrivate := func(when string) {
		t.Helper()
		for _, suffix := range []string{"", "-wal", "-shm"} {
			st, err := os.Stat(path + suffix)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(path+suffix), st.Mode().Perm())
			}
		}
	}
	wantPrivate("a new database")
	first.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Chmod(path+suffix, 0o644)
	}
	r, err := OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.CreateAccount(t.Context(), store.Account{ID: candor.NewAccountID(), Country: "IN"}); err != nil {
		t.Fatal(err)
	}
	wantPrivate("files left 0644")
}
