package storetest

import (
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

func testPurgeTombstones(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Notes)
	live, gone := newID("rec"), newID("rec")
	_, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, []store.Change{
		{ID: live, Version: 1, Ciphertext: randBytes(8)}, {ID: gone, Version: 1, Ciphertext: randBytes(8)}})
	must(t, err)
	res, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, []store.Change{{ID: gone, BaseVersion: 1, Version: 2, Deleted: true}})
	must(t, err)
	tombSeq := res[0].Seq
	if seq, err := r.PurgedSeq(rt.ctx, a); err != nil || seq != 0 {
		t.Fatalf("PurgedSeq before any purge = %d, %v; want 0", seq, err)
	}
	if n, err := r.PurgeTombstones(rt.ctx, time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("a fresh tombstone was purged: %d %v", n, err)
	}
	n, err := r.PurgeTombstones(rt.ctx, time.Now().Add(time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("PurgeTombstones = %d, %v; want 1", n, err)
	}
	recs, err := r.Changes(rt.ctx, logged(), a, candor.Notes, rt.epoch(a, candor.Notes), 0, 10)
	must(t, err)
	if len(recs) != 1 || recs[0].ID != live {
		t.Fatalf("after the purge: %+v", recs)
	}
	if seq, err := r.PurgedSeq(rt.ctx, a); err != nil || seq != tombSeq {
		t.Fatalf("PurgedSeq after the purge = %d, %v; want the tombstone's seq %d", seq, err, tombSeq)
	}
	// It travels with the account.
	d, err := r.ExportAccount(rt.ctx, a)
	must(t, err)
	if d.PurgedSeq != tombSeq {
		t.Fatalf("exported PurgedSeq %d, want %d", d.PurgedSeq, tombSeq)
	}
	must(t, r.DeleteAccount(rt.ctx, logged(), a))
	must(t, r.ImportAccount(rt.ctx, d))
	if seq, _ := r.PurgedSeq(rt.ctx, a); seq != tombSeq {
		t.Fatalf("PurgedSeq after an import = %d, want %d", seq, tombSeq)
	}
	if seq, err := r.PurgedSeq(rt.ctx, candor.AccountID(newID("acc"))); err != nil || seq != 0 {
		t.Fatalf("PurgedSeq of an unknown account = %d, %v", seq, err)
	}
	_, err = r.PurgeTombstones(rt.ctx, time.Now(), 0)
	wantKind(t, err, candor.Invalid)
}
