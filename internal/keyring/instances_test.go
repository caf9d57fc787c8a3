package keyring_test

import (
	"context"
	"testing"

	"github.com/candorcloud/candor"
)

// Two instances share a region's stores. B's cache still has version 1 as
// the region's current key when A rotates to version 2, re-wraps every
// data key and retires version 1. A data key B creates next must be
// wrapped by version 2 (the store refuses version 1, B reloads and wraps
// again), and stay readable after B restarts.
func TestRetiredKEKAcrossInstances(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := e.keyring(), e.keyring()
	for _, k := range []interface {
		Unseal(context.Context, []byte) error
	}{a, b} {
		if err := k.Unseal(ctx, root(1)); err != nil {
			t.Fatal(err)
		}
	}
	before := e.account(t)
	if _, err := b.EnsureDataKey(ctx, "in", before, candor.Notes, e.turnOn(t, "in", before, candor.Notes)); err != nil {
		t.Fatal(err)
	}
	if v := b.KeyVersions()["in"]; v != 1 {
		t.Fatalf("B's current version %d, want 1", v)
	}

	// A rotates, re-wraps and retires version 1; B does not hear of it.
	if _, err := a.StartRotation(ctx, "in"); err != nil {
		t.Fatal(err)
	}
	for {
		_, left, err := a.RewrapBatch(ctx, "in", 100)
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
	}
	if keks, _ := e.regions["in"].KEKs(ctx); len(keks) != 1 || keks[0].Version != 2 {
		t.Fatalf("KEKs after A's rotation: %+v", keks)
	}
	if v := b.KeyVersions()["in"]; v != 1 {
		t.Fatalf("B's cache was refreshed by something else: current %d", v)
	}

	acc := e.account(t)
	key, err := b.EnsureDataKey(ctx, "in", acc, candor.Notes, e.turnOn(t, "in", acc, candor.Notes))
	if err != nil {
		t.Fatalf("B creates a data key with a stale cache: %v", err)
	}
	dk, err := e.regions["in"].DataKey(ctx, acc, candor.Notes)
	if err != nil {
		t.Fatal(err)
	}
	if dk.Key.Wrapper != 2 {
		t.Fatalf("B's new data key is wrapped by version %d, want 2", dk.Key.Wrapper)
	}
	ct := key.Seal([]byte("written by B"), nil)

	// B restarts: nothing of version 1 is cached anywhere.
	b = e.keyring()
	if err := b.Unseal(ctx, root(1)); err != nil {
		t.Fatal(err)
	}
	for _, x := range []candor.AccountID{before, acc} {
		if _, _, err := b.DataKey(ctx, "in", x, candor.Notes); err != nil {
			t.Fatalf("after B restarts, a data key does not open: %v", err)
		}
	}
	again, _, err := b.DataKey(ctx, "in", acc, candor.Notes)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := again.Open(ct, nil); err != nil || string(pt) != "written by B" {
		t.Fatalf("data written by B before its restart: %q %v", pt, err)
	}
}

// ReloadKEKs makes an instance forget the versions another retired and
// take the new current one.
func TestReloadKEKs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a, b := e.keyring(), e.keyring()
	if err := b.ReloadKEKs(ctx); !candor.Is(err, candor.Sealed) {
		t.Fatalf("ReloadKEKs while sealed: %v", err)
	}
	for _, k := range []interface {
		Unseal(context.Context, []byte) error
	}{a, b} {
		if err := k.Unseal(ctx, root(1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.StartRotation(ctx, "sg"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.RewrapBatch(ctx, "sg", 10); err != nil {
		t.Fatal(err)
	}
	if v := b.KeyVersions()["sg"]; v != 1 {
		t.Fatalf("B's current version before reloading %d, want 1", v)
	}
	if err := b.ReloadKEKs(ctx); err != nil {
		t.Fatal(err)
	}
	if v := b.KeyVersions(); v["sg"] != 2 || v["in"] != 1 {
		t.Fatalf("B's current versions after reloading %v, want sg 2, in 1", v)
	}
}
