package keyring

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/erasure"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

// A shred secret written before erasure periods (version 1: under the
// master key only) still opens, and the first advance re-wraps it under
// the next period's erasure key without changing the data key.
func TestVersion1ShredSecretsUpgrade(t *testing.T) {
	ctx := t.Context()
	d := t.TempDir()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(d, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	reg, err := sqlstore.OpenSQLiteRegion(filepath.Join(d, "in.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	k := New(dir, map[candor.RegionID]RegionKeys{"in": reg}, Erasure{Keys: erasure.Folder(filepath.Join(d, "erasure"))})
	if err := k.Unseal(ctx, randomKey()); err != nil {
		t.Fatal(err)
	}
	a := candor.NewAccountID()
	if err := reg.CreateAccount(ctx, store.Account{ID: a, Country: "IN", Salt: make([]byte, 16), AuthHash: "x", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	on, err := reg.AppendConsent(ctx, storetest.Logged(), store.ConsentEvent{Account: a, Category: candor.Notes, On: true,
		Device: candor.NewDeviceID(), Time: time.Now(), PolicyVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// The secret as the keyring wrote it before erasure periods.
	mk, _ := k.masterKey()
	secret := randomKey()
	if _, err := dir.PutShredSecret(ctx, store.ShredSecret{Account: a, Category: candor.Notes, Epoch: on.Seq,
		Key: store.WrappedKey{Version: 1, Wrapped: mk.Seal(secret, shredAD(a, candor.Notes, on.Seq)), Created: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	before, err := k.EnsureDataKey(ctx, "in", a, candor.Notes, on.Seq)
	if err != nil {
		t.Fatal(err)
	}
	sealed := before.Seal([]byte("note"), nil)
	n, _, err := k.AdvanceErasure(ctx, 10)
	if err != nil || n != 1 {
		t.Fatalf("advance: %d re-wrapped, %v; want the version-1 secret", n, err)
	}
	ss, err := dir.ShredSecret(ctx, a, candor.Notes, on.Seq)
	if err != nil || ss.Key.Version != 2 || ss.Key.Wrapper != k.erasure.Clock.Period()+1 {
		t.Fatalf("after the advance the secret is %+v, %v; want version 2 under the next period", ss.Key, err)
	}
	after, _, err := k.DataKey(ctx, "in", a, candor.Notes)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := after.Open(sealed, nil); err != nil || string(pt) != "note" {
		t.Fatalf("the data key changed with the re-wrap: %v", err)
	}
}
