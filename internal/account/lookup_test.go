package account

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// fixedSecrets stands in for the keyring's system secrets (a boundary:
// the keyring has its own tests).
type fixedSecrets struct{}

func (fixedSecrets) Secret(name string) ([]byte, error) {
	return []byte("a secret of the test: " + name), nil
}

// countingRegions counts the reads of account rows, to compare the work
// of two answers.
type countingRegions struct {
	st    *sqlstore.RegionStore
	reads int
}

func (c *countingRegions) HomeFor(string) candor.RegionID { return "in" }
func (c *countingRegions) Accounts(candor.RegionID) (Accounts, error) {
	return countingAccounts{c.st, c}, nil
}

type countingAccounts struct {
	*sqlstore.RegionStore
	c *countingRegions
}

func (a countingAccounts) Account(ctx context.Context, id candor.AccountID) (store.Account, error) {
	a.c.reads++
	return a.RegionStore.Account(ctx, id)
}

// countingDirectory counts the reads of directory entries.
type countingDirectory struct {
	*sqlstore.DirectoryStore
	reads int
}

func (d *countingDirectory) EntryByHandle(ctx context.Context, handle []byte) (store.Entry, error) {
	d.reads++
	return d.DirectoryStore.EntryByHandle(ctx, handle)
}

// The salt of a known handle and the fake salt of an unknown one cost the
// same reads, so that how long the answer takes does not say whether an
// account exists (a known handle used to cost one read more).
func TestSaltCostsTheSameForEveryHandle(t *testing.T) {
	ctx := context.Background()
	folder := t.TempDir()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(folder, "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	reg, err := sqlstore.OpenSQLiteRegion(filepath.Join(folder, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	known := make([]byte, HandleSize)
	known[0] = 1
	a := candor.NewAccountID()
	if err := reg.CreateAccount(ctx, store.Account{ID: a, Country: "IN", Salt: make([]byte, 16), AuthHash: "x", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := dir.CreateEntry(ctx, store.Entry{Account: a, Handle: known, Region: "in", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := &countingDirectory{DirectoryStore: dir}
	r := &countingRegions{st: reg}
	s := New(d, r, fixedSecrets{}, nil, Config{Hash: Argon2{Time: 1, MemoryKiB: 64, Threads: 1}})
	reads := func(handle []byte) [2]int {
		d.reads, r.reads = 0, 0
		if _, _, err := s.Salt(ctx, handle); err != nil {
			t.Fatal(err)
		}
		return [2]int{d.reads, r.reads}
	}
	unknown := make([]byte, HandleSize)
	unknown[0] = 2
	if k, u := reads(known), reads(unknown); k != u || k != [2]int{1, 1} {
		t.Fatalf("reads (directory, region): known handle %v, unknown %v; want the same, one each", k, u)
	}
}
