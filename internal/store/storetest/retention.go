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
	_, err := r.ApplyChanges(rt.ctx, a, candor.Notes, epoch, []store.Change{
		{ID: live, Version: 1, Ciphertext: randBytes(8)}, {ID: gone, Version: 1, Ciphertext: randBytes(8)}})
	must(t, err)
	_, err = r.ApplyChanges(rt.ctx, a, candor.Notes, epoch, []store.Change{{ID: gone, BaseVersion: 1, Version: 2, Deleted: true}})
	must(t, err)
	if n, err := r.PurgeTombstones(rt.ctx, time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
		t.Fatalf("a fresh tombstone was purged: %d %v", n, err)
	}
	n, err := r.PurgeTombstones(rt.ctx, time.Now().Add(time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("PurgeTombstones = %d, %v; want 1", n, err)
	}
	recs, err := r.Changes(rt.ctx, a, candor.Notes, 0, 10)
	must(t, err)
	if len(recs) != 1 || recs[0].ID != live {
		t.Fatalf("after the purge: %+v", recs)
	}
	_, err = r.PurgeTombstones(rt.ctx, time.Now(), 0)
	wantKind(t, err, candor.Invalid)
}
