package keyring_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"github.com/candorcloud/candor/internal/seal"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

type env struct {
	dir     *sqlstore.DirectoryStore
	regions map[candor.RegionID]*sqlstore.RegionStore
	erasure keyring.Erasure
}

func newEnv(t *testing.T) env {
	t.Helper()
	k := keyringtest.New(t, "in", "sg")
	return env{dir: k.Dir, regions: k.Regions, erasure: k.Erasure}
}

func (e env) keyring() *keyring.Keyring {
	m := map[candor.RegionID]keyring.RegionKeys{}
	for id, r := range e.regions {
		m[id] = r
	}
	return keyring.New(e.dir, m, e.erasure)
}

// account creates an account in every region (tests move keys between them).
func (e env) account(t *testing.T) candor.AccountID {
	t.Helper()
	a := candor.NewAccountID()
	for _, r := range e.regions {
		if err := r.CreateAccount(context.Background(), store.Account{ID: a, Country: "IN", Salt: make([]byte, 16),
			AuthHash: "x", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// turnOn records consent for a category and returns its epoch.
func (e env) turnOn(t *testing.T, region candor.RegionID, a candor.AccountID, c candor.Category) int64 {
	t.Helper()
	ev, err := e.regions[region].AppendConsent(context.Background(), storetest.Logged(), store.ConsentEvent{
		Account: a, Category: c, On: true, Device: candor.NewDeviceID(), Time: time.Now(), PolicyVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return ev.Seq
}

func root(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealedUntilUnsealed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if !k.Sealed() {
		t.Fatal("a new keyring is unsealed")
	}
	if _, err := k.Secret(keyring.SecretFakeSalt); !candor.Is(err, candor.Sealed) {
		t.Fatalf("secret while sealed: %v", err)
	}
	if _, _, err := k.DataKey(ctx, "in", candor.NewAccountID(), candor.Notes); !candor.Is(err, candor.Sealed) {
		t.Fatalf("data key while sealed: %v", err)
	}
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	if k.Sealed() {
		t.Fatal("still sealed")
	}
	k.Seal()
	if _, err := k.Secret(keyring.SecretFakeSalt); !candor.Is(err, candor.Sealed) {
		t.Fatalf("secret after Seal: %v", err)
	}

	// A later start accepts only the same root key, checked against the
	// stored check value.
	k2 := e.keyring()
	if err := k2.Unseal(ctx, root(2)); !candor.Is(err, candor.Forbidden) {
		t.Fatalf("wrong root: %v", err)
	}
	if !k2.Sealed() {
		t.Fatal("a wrong root unsealed the keyring")
	}
	if err := k2.Unseal(ctx, root(1)[:31]); !candor.Is(err, candor.Invalid) {
		t.Fatalf("short root: %v", err)
	}
	if err := k2.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	s1, _ := k.Secret(keyring.SecretHandleOPRF)
	s1 = bytes.Clone(s1)
	k2 := e.keyring()
	if err := k2.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	s2, _ := k2.Secret(keyring.SecretHandleOPRF)
	if !bytes.Equal(s1, s2) || len(s1) != 32 {
		t.Fatal("system secret changed across restarts")
	}
	f, _ := k2.Secret(keyring.SecretFakeSalt)
	if bytes.Equal(f, s2) {
		t.Fatal("two system secrets are equal")
	}
}

func TestDataKeys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	a := e.account(t)
	if _, _, err := k.DataKey(ctx, "in", a, candor.Notes); !candor.Is(err, candor.NotFound) {
		t.Fatalf("no key yet: %v", err)
	}
	if _, err := k.EnsureDataKey(ctx, "in", a, candor.Notes, 1); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("key without consent: %v", err)
	}
	epoch := e.turnOn(t, "in", a, candor.Notes)
	dk, err := k.EnsureDataKey(ctx, "in", a, candor.Notes, epoch)
	if err != nil {
		t.Fatal(err)
	}
	ad := seal.AD("test")
	ct := dk.Seal([]byte("Marmalade-ledger"), ad)
	again, gotEpoch, err := k.DataKey(ctx, "in", a, candor.Notes)
	if err != nil || gotEpoch != epoch {
		t.Fatalf("DataKey: %v epoch %d", err, gotEpoch)
	}
	if pt, err := again.Open(ct, ad); err != nil || string(pt) != "Marmalade-ledger" {
		t.Fatalf("reopen: %q %v", pt, err)
	}
	// Another account's key does not open it.
	b := e.account(t)
	other, err := k.EnsureDataKey(ctx, "in", b, candor.Notes, e.turnOn(t, "in", b, candor.Notes))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(ct, ad); err == nil {
		t.Fatal("another account's key opened the data")
	}

	// The stored wrapped key, moved to another account, does not unwrap.
	stored, _ := e.regions["in"].DataKey(ctx, a, candor.Notes)
	c := e.account(t)
	stored.Account = c
	stored.Epoch = e.turnOn(t, "in", c, candor.Notes)
	if _, err := e.regions["in"].CreateDataKey(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.DataKey(ctx, "in", c, candor.Notes); !candor.Is(err, candor.Integrity) {
		t.Fatalf("a wrapped key moved to another account: %v", err)
	}

	// Opting out destroys the key: the ciphertext can no longer be opened
	// by anyone, the unsealed server included.
	if _, err := e.regions["in"].AppendConsent(ctx, storetest.Logged(), store.ConsentEvent{Account: a, Category: candor.Notes, On: false,
		Device: candor.NewDeviceID(), Time: time.Now(), PolicyVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.DataKey(ctx, "in", a, candor.Notes); !candor.Is(err, candor.NotFound) {
		t.Fatalf("key after opt-out: %v", err)
	}
	if _, err := k.EnsureDataKey(ctx, "zz", a, candor.Notes, 1); !candor.Is(err, candor.WrongRegion) {
		t.Fatalf("unknown region: %v", err)
	}
}

// Each region has its own key: a data key wrapped in one region does not
// unwrap in another.
func TestRegionKeysDiffer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	a := e.account(t)
	if _, err := k.EnsureDataKey(ctx, "in", a, candor.SMS, e.turnOn(t, "in", a, candor.SMS)); err != nil {
		t.Fatal(err)
	}
	dk, _ := e.regions["in"].DataKey(ctx, a, candor.SMS)
	dk.Epoch = e.turnOn(t, "sg", a, candor.SMS)
	if _, err := e.regions["sg"].CreateDataKey(ctx, dk); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.DataKey(ctx, "sg", a, candor.SMS); err == nil {
		t.Fatal("a data key wrapped for region in unwrapped in region sg")
	}
	inKEK, _ := e.regions["in"].KEKs(ctx)
	sgKEK, _ := e.regions["sg"].KEKs(ctx)
	if len(inKEK) != 1 || len(sgKEK) != 1 || bytes.Equal(inKEK[0].Wrapped, sgKEK[0].Wrapped) {
		t.Fatal("regions do not have distinct keys")
	}
}

func TestDevRoot(t *testing.T) {
	p := filepath.Join(t.TempDir(), keyring.DevRootFile)
	a, err := keyring.DevRoot(p)
	if err != nil || len(a) != 32 {
		t.Fatal(err)
	}
	b, err := keyring.DevRoot(p)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatal("dev root changed")
	}
}

// Rotating a region key re-wraps every data key under the new version, in
// batches, without changing any record key, and retires the old version.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	type owned struct {
		a  candor.AccountID
		ct []byte
	}
	var all []owned
	for range 25 {
		a := e.account(t)
		key, err := k.EnsureDataKey(ctx, "in", a, candor.Notes, e.turnOn(t, "in", a, candor.Notes))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, owned{a, key.Seal([]byte("before rotation "+string(a)), nil)})
	}
	r, err := k.StartRotation(ctx, "in")
	if err != nil || r.Version != 2 || r.Pending != 25 || r.Total != 25 {
		t.Fatalf("start: %+v %v", r, err)
	}
	// A key made during the rotation uses the new version at once.
	late := e.account(t)
	if _, err := k.EnsureDataKey(ctx, "in", late, candor.Notes, e.turnOn(t, "in", late, candor.Notes)); err != nil {
		t.Fatal(err)
	}
	if again, _ := k.StartRotation(ctx, "in"); again.Version != 2 {
		t.Fatalf("a second start during a pending rotation made version %d", again.Version)
	}
	// A key destroyed during the rotation is skipped, not resurrected.
	if err := k.Shred(ctx, all[0].a, candor.Notes); err != nil {
		t.Fatal(err)
	}
	e.regions["in"].AppendConsent(ctx, storetest.Logged(), store.ConsentEvent{Account: all[0].a, Category: candor.Notes, Device: "dev", Time: time.Now(), PolicyVersion: "t"})
	total := 0
	for {
		done, left, err := k.RewrapBatch(ctx, "in", 7)
		if err != nil {
			t.Fatal(err)
		}
		total += done
		if left == 0 {
			break
		}
	}
	if total != 24 {
		t.Fatalf("re-wrapped %d keys, want 24", total)
	}
	keks, _ := e.regions["in"].KEKs(ctx)
	if len(keks) != 1 || keks[0].Version != 2 {
		t.Fatalf("KEKs after rotation: %+v", keks)
	}
	for _, o := range all[1:] {
		key, _, err := k.DataKey(ctx, "in", o.a, candor.Notes)
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := key.Open(o.ct, nil); err != nil || string(pt) != "before rotation "+string(o.a) {
			t.Fatalf("record key changed by rotation: %v", err)
		}
	}
	if _, _, err := k.DataKey(ctx, "in", all[0].a, candor.Notes); !candor.Is(err, candor.NotFound) {
		t.Fatalf("shredded key after rotation: %v", err)
	}
	// A fresh process (another instance) reads the rotated keys.
	k2 := e.keyring()
	if err := k2.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k2.DataKey(ctx, "in", all[1].a, candor.Notes); err != nil {
		t.Fatal(err)
	}
}

// A record key needs both halves: without the directory's shred secret the
// region's data key opens nothing.
func TestShredSecretIsHalfTheKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	k := e.keyring()
	if err := k.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	a := e.account(t)
	epoch := e.turnOn(t, "in", a, candor.Contacts)
	if _, err := k.EnsureDataKey(ctx, "in", a, candor.Contacts, epoch); err != nil {
		t.Fatal(err)
	}
	if err := k.Shred(ctx, a, candor.Contacts); err != nil {
		t.Fatal(err)
	}
	if _, err := e.regions["in"].DataKey(ctx, a, candor.Contacts); err != nil {
		t.Fatalf("the region's half should still be there: %v", err)
	}
	if _, _, err := k.DataKey(ctx, "in", a, candor.Contacts); !candor.Is(err, candor.NotFound) {
		t.Fatalf("a data key without its shred secret: %v", err)
	}
}
