package custody_test

import (
	"context"
	"github.com/candorcloud/candor/internal/erasure"
	"path/filepath"
	"testing"

	"github.com/openbao/openbao/sdk/v2/helper/shamir"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/custody"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

type server struct {
	dir     *sqlstore.DirectoryStore
	reg     *sqlstore.RegionStore
	erasure keyring.Erasure
}

func open(t testing.TB, d string) server {
	t.Helper()
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(d, "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sqlstore.OpenSQLiteRegion(filepath.Join(d, "in.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close(); reg.Close() })
	return server{dir, reg, keyring.Erasure{Keys: erasure.Folder(filepath.Join(d, "erasure"))}}
}

func (s server) ceremony() (*custody.Ceremony, *keyring.Keyring) {
	k := keyring.New(s.dir, map[candor.RegionID]keyring.RegionKeys{"in": s.reg}, s.erasure)
	logs := audit.New(s.dir, map[candor.RegionID]store.AuditLog{"in": s.reg}, k, "candor-test")
	return custody.New(s.dir, k, logs), k
}

// Fewer than K shares rebuild nothing that opens the stored key material:
// combined, they give a value the check refuses, and the keyring stays
// sealed.
func TestFewerThanThresholdDecryptNothing(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	c, _ := open(t, d).ceremony()
	shares, err := c.Init(ctx, 5, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, k := open(t, d).ceremony() // a restart: sealed
	raw := make([][]byte, len(shares))
	for i, s := range shares {
		if raw[i], err = custody.DecodeShare(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, subset := range [][][]byte{raw[:2], raw[1:3], {raw[0], raw[4]}} {
		guess, err := shamir.Combine(subset)
		if err != nil {
			continue
		}
		if err := k.Unseal(ctx, guess); !candor.Is(err, candor.Forbidden) {
			t.Fatalf("two shares of a 3-of-5 root: %v", err)
		}
		if !k.Sealed() {
			t.Fatal("unsealed by two shares")
		}
	}
	guess, _ := shamir.Combine([][]byte{raw[4], raw[2], raw[0]})
	if err := k.Unseal(ctx, guess); err != nil {
		t.Fatalf("three shares: %v", err)
	}
}

// Submitting shares: progress, refusals and the threshold.
func TestSubmit(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	c, _ := open(t, d).ceremony()
	if _, err := c.Submit(ctx, "candor-share-v1-AAAA"); !candor.Is(err, candor.Conflict) {
		t.Fatalf("submit before init: %v", err)
	}
	shares, err := c.Init(ctx, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Init(ctx, 3, 2, nil); !candor.Is(err, candor.Conflict) {
		t.Fatalf("second init: %v", err)
	}
	c2, k := open(t, d).ceremony()
	st, _ := c2.Status(ctx)
	if !st.Initialized || !st.Sealed || st.Threshold != 2 || st.Shares != 3 {
		t.Fatalf("status: %+v", st)
	}
	for _, bad := range []string{"", "hello", "candor-share-v1-!!!!", "candor-share-v1-AAAA"} {
		if _, err := c2.Submit(ctx, bad); !candor.Is(err, candor.Invalid) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	if st, err := c2.Submit(ctx, "  "+shares[1]+"\n"); err != nil || st.Submitted != 1 || !st.Sealed {
		t.Fatalf("first share: %+v %v", st, err)
	}
	if _, err := c2.Submit(ctx, shares[1]); !candor.Is(err, candor.Conflict) {
		t.Fatalf("same share twice: %v", err)
	}
	c2.Seal(ctx, "test") // forgets offered shares
	if st, _ := c2.Status(ctx); st.Submitted != 0 {
		t.Fatalf("seal kept %d offered shares", st.Submitted)
	}
	c2.Submit(ctx, shares[1])
	if st, err := c2.Submit(ctx, shares[2]); err != nil || st.Sealed || k.Sealed() {
		t.Fatalf("threshold reached: %+v %v", st, err)
	}
}

// A rekey needs the current custodians' shares, replaces every share at
// once, keeps every key below the root, and only the new shares unseal.
func TestRekey(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	c, k := open(t, d).ceremony()
	old, err := c.Init(ctx, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := k.Secret(keyring.SecretFakeSalt)
	secret = append([]byte(nil), secret...)

	if _, _, err := c.SubmitRekey(ctx, old[0]); !candor.Is(err, candor.Conflict) {
		t.Fatalf("share with no rekey waiting: %v", err)
	}
	if _, err := c.StartRekey(ctx, 4, 1, nil); !candor.Is(err, candor.Invalid) {
		t.Fatalf("threshold 1: %v", err)
	}
	if _, err := c.StartRekey(ctx, 4, 3, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartRekey(ctx, 4, 3, nil); !candor.Is(err, candor.Conflict) {
		t.Fatalf("second rekey: %v", err)
	}
	st, shares, err := c.SubmitRekey(ctx, old[2])
	if err != nil || shares != nil || st.Rekey == nil || st.Rekey.Submitted != 1 || st.Rekey.Needed != 2 {
		t.Fatalf("first share: %+v %v %v", st, shares, err)
	}
	st, shares, err = c.SubmitRekey(ctx, old[0])
	if err != nil || len(shares) != 4 || st.RootVersion != 2 || st.Threshold != 3 || st.Rekey != nil {
		t.Fatalf("second share: %+v %d %v", st, len(shares), err)
	}
	if k.Sealed() || k.RootVersion() != 2 {
		t.Fatal("the running server changed state during the rekey")
	}

	// A restart: the old shares are refused, three new ones unseal, and the
	// keys below the root are the same.
	c2, k2 := open(t, d).ceremony()
	if _, err := c2.Submit(ctx, old[1]); !candor.Is(err, candor.Forbidden) {
		t.Fatalf("an old share after rekey: %v", err)
	}
	for _, s := range shares[1:] {
		if _, err := c2.Submit(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if k2.Sealed() || k2.RootVersion() != 2 {
		t.Fatal("new shares did not unseal")
	}
	if got, _ := k2.Secret(keyring.SecretFakeSalt); string(got) != string(secret) {
		t.Fatal("a system secret changed across the rekey")
	}

	// A cancelled rekey changes nothing and forgets its shares.
	if _, err := c2.StartRekey(ctx, 2, 2, nil); err != nil {
		t.Fatal(err)
	}
	c2.SubmitRekey(ctx, shares[0])
	c2.CancelRekey()
	if st, _ := c2.Status(ctx); st.Rekey != nil || st.RootVersion != 2 {
		t.Fatalf("after cancel: %+v", st)
	}
	if _, _, err := c2.SubmitRekey(ctx, shares[1]); !candor.Is(err, candor.Conflict) {
		t.Fatalf("share after cancel: %v", err)
	}
}
