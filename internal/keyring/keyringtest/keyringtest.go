// Package keyringtest gives tests the key hierarchy over real stores: a
// SQLite directory and a store per region in a fresh temporary folder, a
// keyring over them and the audit logs it keys, closed when the test ends.
package keyringtest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/erasure"
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
	Erasure keyring.Erasure  // the keyring's erasure folder and clock (Later moves it)

	later *atomic.Int64
	root  []byte // the root key Unseal adopted
}

// Erasure returns an erasure folder of the test's own, daily periods and
// the system clock moved forward by whatever Later adds to the returned
// counter (nanoseconds).
func Erasure(t testing.TB) (keyring.Erasure, *atomic.Int64) {
	later := new(atomic.Int64)
	return keyring.Erasure{Keys: erasure.Folder(filepath.Join(t.TempDir(), "erasure")),
		Clock: erasure.Clock{Length: keyring.DefaultPeriod, Now: func() time.Time {
			return time.Now().Add(time.Duration(later.Load()))
		}}}, later
}

// Later moves the keyring's erasure clock forward by d.
func (e *Env) Later(d time.Duration) { e.later.Add(int64(d)) }

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
	e.Erasure, e.later = Erasure(t)
	e.Keys = keyring.New(dir, keys, e.Erasure)
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
	e.root = root
}

// Another returns another keyring over the same stores, unsealed with the
// root key Unseal adopted: another server instance, with a cache of its
// own.
func (e *Env) Another(t testing.TB) *keyring.Keyring {
	t.Helper()
	keys := map[candor.RegionID]keyring.RegionKeys{}
	for id, st := range e.Regions {
		keys[id] = st
	}
	k := keyring.New(e.Dir, keys, e.Erasure)
	if err := k.Unseal(context.Background(), e.root); err != nil {
		t.Fatal(err)
	}
	return k
}
