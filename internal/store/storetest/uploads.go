package storetest

import (
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

func testUploads(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	now := time.Now().UTC()
	hash := randBytes(32)
	up := store.Upload{ID: newID("upl"), Account: a, Category: candor.Photos, Size: 5 << 20, Hash: hash, Created: now, Expires: now.Add(time.Hour)}
	must(t, r.CreateUpload(rt.ctx, up))
	wantKind(t, r.CreateUpload(rt.ctx, up), candor.Conflict)
	ghost := up
	ghost.ID, ghost.Account = newID("upl"), candor.AccountID(newID("acc"))
	wantKind(t, r.CreateUpload(rt.ctx, ghost), candor.NotFound)
	bad := up
	bad.ID, bad.Hash = newID("upl"), nil
	wantKind(t, r.CreateUpload(rt.ctx, bad), candor.Invalid)

	got, err := r.Upload(rt.ctx, a, up.ID)
	must(t, err)
	if got.Size != up.Size || got.Complete || string(got.Hash) != string(hash) || got.Category != candor.Photos {
		t.Fatalf("Upload = %+v", got)
	}
	_, err = r.Upload(rt.ctx, b, up.ID)
	wantKind(t, err, candor.NotFound) // another account's upload is not there
	_, err = r.UploadByHash(rt.ctx, a, candor.Photos, hash)
	wantKind(t, err, candor.NotFound) // not complete yet

	// Extending moves the expiry later, never earlier, and only for the
	// account's own upload.
	later := now.Add(3 * time.Hour).Truncate(time.Microsecond)
	must(t, r.ExtendUpload(rt.ctx, logged(), a, up.ID, later))
	must(t, r.ExtendUpload(rt.ctx, logged(), a, up.ID, now.Add(2*time.Hour)))
	if got, _ := r.Upload(rt.ctx, a, up.ID); !got.Expires.Equal(later) {
		t.Fatalf("expiry after extending to +3h then +2h: %s, want %s", got.Expires, later)
	}
	wantKind(t, r.ExtendUpload(rt.ctx, logged(), b, up.ID, later), candor.NotFound)
	wantKind(t, r.ExtendUpload(rt.ctx, logged(), a, newID("upl"), later), candor.NotFound)

	// Shared starts zero and moves later, never earlier.
	if got, _ := r.Upload(rt.ctx, a, up.ID); !got.Shared.IsZero() {
		t.Fatalf("a new upload is shared at %s", got.Shared)
	}
	must(t, r.ShareUpload(rt.ctx, a, up.ID, later))
	must(t, r.ShareUpload(rt.ctx, a, up.ID, now))
	if got, _ := r.Upload(rt.ctx, a, up.ID); !got.Shared.Equal(later) {
		t.Fatalf("shared after +3h then now: %s, want %s", got.Shared, later)
	}
	wantKind(t, r.ShareUpload(rt.ctx, b, up.ID, later), candor.NotFound)

	wantKind(t, r.CompleteUpload(rt.ctx, logged(), b, up.ID), candor.NotFound)
	must(t, r.CompleteUpload(rt.ctx, logged(), a, up.ID))
	byHash, err := r.UploadByHash(rt.ctx, a, candor.Photos, hash)
	must(t, err)
	if byHash.ID != up.ID || !byHash.Complete {
		t.Fatalf("UploadByHash = %+v", byHash)
	}
	_, err = r.UploadByHash(rt.ctx, b, candor.Photos, hash)
	wantKind(t, err, candor.NotFound) // de-duplication never crosses accounts

	old := store.Upload{ID: newID("upl"), Account: a, Category: candor.Photos, Size: 1, Hash: randBytes(32), Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)}
	must(t, r.CreateUpload(rt.ctx, old))
	expired, err := r.ExpiredUploads(rt.ctx, now, 10)
	must(t, err)
	if len(expired) != 1 || expired[0].ID != old.ID {
		t.Fatalf("ExpiredUploads = %+v", expired)
	}
	must(t, r.DeleteUpload(rt.ctx, logged(), a, old.ID))
	must(t, r.DeleteUpload(rt.ctx, logged(), a, old.ID))
	if expired, _ := r.ExpiredUploads(rt.ctx, now, 10); len(expired) != 0 {
		t.Fatalf("after delete: %+v", expired)
	}

	// Turning photos off deletes the account's uploads; deleting the
	// account deletes the rest.
	rt.enable(a, candor.Photos)
	rt.consent(a, candor.Photos, false)
	_, err = r.Upload(rt.ctx, a, up.ID)
	wantKind(t, err, candor.NotFound)
	other := store.Upload{ID: newID("upl"), Account: b, Category: candor.Photos, Size: 1, Hash: randBytes(32), Created: now, Expires: now.Add(time.Hour)}
	must(t, r.CreateUpload(rt.ctx, other))
	must(t, r.DeleteAccount(rt.ctx, logged(), b))
	_, err = r.Upload(rt.ctx, b, other.ID)
	wantKind(t, err, candor.NotFound)
}
