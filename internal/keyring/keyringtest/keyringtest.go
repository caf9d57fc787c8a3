// Package keyringtest gives tests the key hierarchy over real stores: a
// SQLite directory and a store per region in a fresh temporary folder, a
// keyring over them and the audit logs it keys, closed when the test ends.
package keyringtest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// Env is a directory, its regions, their keyring and their audit logs.
type Env struct {
	Dir     *sqlstore.DirectoryStore
	Regions map[candor.RegionID]*sqlstore.RegionStore
	Keys    *keyring.Keyring // sealed until Unseal
	Logs    *audit.Logs      // named "candor" in checkpoints
}

// New opens a directory and a store for each region, with a sealed keyring
// over them. It fails the test if a store cannot be opened.
func New(t testing.TB, regions ...candor.RegionID) *Env {
	t.Helper()
	d := t.TempDir()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(d, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	e := &Env{Dir: dir, Regions: map[candor.RegionID]*sqlstore.RegionStore{}}
	keys := map[candor.RegionID]keyring.RegionKeys{}
	logs := map[candor.RegionID]store.AuditLog{}
	for _, id := range regions {
		st, err := sqlstore.OpenSQLiteRegion(filepath.Join(d, string(id)+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		e.Regions[id], keys[id], logs[id] = st, st, st
	}
	e.Keys = keyring.New(dir, keys)
	e.Logs = audit.New(dir, logs, e.Keys, "candor")
	return e
}

// Unseal unseals the keyring with a new random root key, which it adopts
// on first use as --dev does.
func (e *Env) Unseal(t testing.TB) {
	t.Helper()
	root := make([]byte, 32)
	rand.Read(root)
	if err := e.Keys.Unseal(context.Background(), root); err != nil {
		t.Fatal(err)
	}
}
