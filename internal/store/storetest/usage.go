package storetest

import (
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// testUsage checks the sums behind an account's summary: live records
// and their ciphertext bytes (tombstones count as a change, not as a
// record), complete uploads and their sizes, per account and category.
func testUsage(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()

	u, err := r.Usage(rt.ctx, a, candor.Contacts)
	must(t, err)
	if u != (store.Usage{}) {
		t.Fatalf("Usage of an empty category = %+v, want zero", u)
	}
	u, err = r.Usage(rt.ctx, candor.AccountID(newID("acc")), candor.Contacts)
	must(t, err)
	if u != (store.Usage{}) {
		t.Fatalf("Usage of an unknown account = %+v, want zero", u)
	}

	before := time.Now().Add(-time.Second)
	epoch := rt.enable(a, candor.Contacts)
	r1, r2, r3 := newID("rec"), newID("rec"), newID("rec")
	rt.apply(a, candor.Contacts, epoch, create(r1, make([]byte, 100)), create(r2, make([]byte, 250)), create(r3, make([]byte, 7)))
	rt.apply(a, candor.Contacts, epoch, deletion(r3, 1), update(r1, 1, make([]byte, 40)))
	rt.apply(b, candor.Contacts, rt.enable(b, candor.Contacts), create(newID("rec"), make([]byte, 999)))
	rt.apply(a, candor.Notes, rt.enable(a, candor.Notes), create(newID("rec"), make([]byte, 11)))

	u, err = r.Usage(rt.ctx, a, candor.Contacts)
	must(t, err)
	if u.Records != 2 || u.Bytes != 290 {
		t.Fatalf("Usage = %+v, want 2 live records of 290 bytes (the deletion and the old version not counted)", u)
	}
	if u.LastChange.Before(before) || u.LastChange.After(time.Now().Add(time.Second)) {
		t.Fatalf("Usage.LastChange = %v, want about now", u.LastChange)
	}
	last := u.LastChange
	rt.apply(a, candor.Contacts, epoch, deletion(r2, 1))
	u, err = r.Usage(rt.ctx, a, candor.Contacts)
	must(t, err)
	if u.Records != 1 || u.Bytes != 40 || u.LastChange.Before(last) {
		t.Fatalf("Usage after a deletion = %+v, want 1 record of 40 bytes changed at or after %v", u, last)
	}

	// Uploads: only complete ones count.
	now := time.Now().UTC()
	up1 := store.Upload{ID: newID("upl"), Account: a, Category: candor.Photos, Size: 5 << 20, Hash: randBytes(32), Created: now, Expires: now.Add(time.Hour)}
	up2 := store.Upload{ID: newID("upl"), Account: a, Category: candor.Photos, Size: 3000, Hash: randBytes(32), Created: now.Add(time.Second), Expires: now.Add(time.Hour)}
	open := store.Upload{ID: newID("upl"), Account: a, Category: candor.Photos, Size: 1 << 30, Hash: randBytes(32), Created: now.Add(2 * time.Second), Expires: now.Add(time.Hour)}
	other := store.Upload{ID: newID("upl"), Account: b, Category: candor.Photos, Size: 77, Hash: randBytes(32), Created: now, Expires: now.Add(time.Hour)}
	for _, x := range []store.Upload{up1, up2, open, other} {
		must(t, r.CreateUpload(rt.ctx, x))
	}
	for _, x := range []store.Upload{up1, up2, other} {
		must(t, r.CompleteUpload(rt.ctx, logged(), x.Account, x.ID))
	}
	u, err = r.UploadUsage(rt.ctx, a, candor.Photos)
	must(t, err)
	if u.Records != 2 || u.Bytes != 5<<20+3000 || !u.LastChange.Equal(up2.Created.Truncate(time.Microsecond)) {
		t.Fatalf("UploadUsage = %+v, want 2 photos of %d bytes, the latest at %v", u, 5<<20+3000, up2.Created)
	}
	u, err = r.UploadUsage(rt.ctx, a, candor.Notes)
	must(t, err)
	if u != (store.Usage{}) {
		t.Fatalf("UploadUsage of a category without uploads = %+v", u)
	}
}

// testDeleteDevices checks that devices go by kind, only the account's,
// never phones, and within the bound.
func testDeleteDevices(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	reg := func(acc candor.AccountID, kind string) candor.DeviceID {
		d := store.Device{ID: candor.DeviceID(newID("dev")), Account: acc, Pseudonym: randBytes(32), Created: testTime, Kind: kind}
		_, err := r.RegisterDevice(rt.ctx, logged(), d)
		must(t, err)
		return d.ID
	}
	phone, app, br1, br2 := reg(a, ""), reg(a, store.DeviceApp), reg(a, store.DeviceBrowser), reg(a, store.DeviceBrowser)
	other := reg(b, store.DeviceBrowser)

	_, err := r.DeleteDevices(rt.ctx, a, "", []candor.DeviceID{phone})
	wantKind(t, err, candor.Invalid)
	_, err = r.DeleteDevices(rt.ctx, a, store.DeviceBrowser, make([]candor.DeviceID, store.MaxDeleteDevices+1))
	wantKind(t, err, candor.Invalid)

	n, err := r.DeleteDevices(rt.ctx, a, store.DeviceBrowser, []candor.DeviceID{phone, app, br1, other, "dev_unknown"})
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteDevices deleted %d, want 1 (only a's browser of those)", n)
	}
	left := func(acc candor.AccountID) map[candor.DeviceID]bool {
		devs, err := r.Devices(rt.ctx, acc)
		must(t, err)
		m := map[candor.DeviceID]bool{}
		for _, d := range devs {
			m[d.ID] = true
		}
		return m
	}
	if got := left(a); len(got) != 3 || !got[phone] || !got[app] || !got[br2] {
		t.Fatalf("a's devices after DeleteDevices: %v", got)
	}
	if got := left(b); !got[other] {
		t.Fatal("DeleteDevices deleted another account's device")
	}
	n, err = r.DeleteDevices(rt.ctx, a, store.DeviceBrowser, nil)
	if err != nil || n != 0 {
		t.Fatalf("DeleteDevices of none = %d, %v", n, err)
	}
}
