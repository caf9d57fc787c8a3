package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/candorcloud/candor/internal/erasure"
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

// backupRegion takes a consistent copy of a region's database, as an
// operator's backup would (VACUUM INTO), and returns its path.
func backupRegion(t *testing.T, env *servertest.Env, region string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", region, "candor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("backup-%s.db", region))
	if _, err := db.Exec("VACUUM INTO ?", path); err != nil {
		t.Fatal(err)
	}
	return path
}

type backupStores struct{ st *sqlstore.RegionStore }

func (b backupStores) Records(candor.RegionID) (records.Store, error) { return b.st, nil }
func (b backupStores) Consent(candor.RegionID) (consent.Store, error) { return b.st, nil }

// readBackup tries, with everything the live, unsealed server has — its
// directory and its root key — to read a category's records out of a copy
// of the region's database. It returns the records read or why it could
// not.
func readBackup(t *testing.T, env *servertest.Env, path string, p candor.Principal, c candor.Category) ([]records.Record, error) {
	t.Helper()
	ctx := context.Background()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(env.Data, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	reg, err := sqlstore.OpenSQLiteRegion(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	keys := keyring.New(dir, map[candor.RegionID]keyring.RegionKeys{p.Region: reg},
		keyring.Erasure{Keys: erasure.Folder(filepath.Join(env.Data, "erasure"))})
	root, err := keyring.DevRoot(filepath.Join(env.Data, keyring.DevRootFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Unseal(ctx, root); err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.DataKey(ctx, p.Region, p.Account, c); err != nil {
		return nil, err
	}
	// The copy says the category is on: it was taken before the opt-out.
	grant, err := consent.NewLedger(backupStores{reg}, nil, nil).Check(ctx, p, c)
	if err != nil {
		return nil, err
	}
	feed, err := records.New(backupStores{reg}, keys, records.Sealed{}).Pull(ctx, storetest.Logged(), grant, 0, 1000)
	return feed.Records, err
}

// A copy of the database taken before an opt-out or an account deletion
// cannot be decrypted after it, even with the unsealed server's keys.
func TestBackupUnreadableAfterDeletion(t *testing.T) {
	ctx := context.Background()
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	for i := range 5 {
		a.Contacts().Add(fmt.Sprintf("Backup %s %d", canaryName, i), canaryPhone)
	}
	a.Notes().Add("harbour", canaryNote)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	a.SetConsent(ctx, candor.Notes, true)
	mustSync(t, a)
	st, _ := a.Status()
	p := candor.Principal{Account: st.Account, Region: st.Region}

	before := backupRegion(t, env, "in")
	// The test can fail: before the opt-out, the copy is readable.
	if got, err := readBackup(t, env, before, p, candor.Contacts); err != nil || len(got) != 5 {
		t.Fatalf("control: the backup gave %d contacts, %v", len(got), err)
	}
	if _, err := a.SetConsent(ctx, candor.Contacts, false); err != nil {
		t.Fatal(err)
	}
	if got, err := readBackup(t, env, before, p, candor.Contacts); err == nil || len(got) > 0 {
		t.Fatalf("after opt-out the earlier backup still gave %d contacts", len(got))
	}
	// Notes were not withdrawn: still readable from the same copy.
	if got, err := readBackup(t, env, before, p, candor.Notes); err != nil || len(got) != 1 {
		t.Fatalf("notes from the backup: %d, %v", len(got), err)
	}

	again := backupRegion(t, env, "in")
	if err := a.DeleteAccount(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{before, again} {
		if got, err := readBackup(t, env, path, p, candor.Notes); err == nil || len(got) > 0 {
			t.Fatalf("after account deletion a backup still gave %d notes", len(got))
		}
	}
	// The account is gone: the phone cannot log in again.
	b := newPhone(t, env, "356938035643817")
	if _, err := b.Login(ctx, canaryEmail, canaryPassword); !candor.Is(err, candor.Unauthenticated) {
		t.Fatalf("login after deletion: %v", err)
	}
}
