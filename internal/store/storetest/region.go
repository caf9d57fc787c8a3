package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// TestRegion runs the conformance suite of store.Region. open returns a
// fresh, empty store for one subtest and registers its cleanup with
// t.Cleanup.
func TestRegion(t *testing.T, open func(t *testing.T) store.Region) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, r store.Region)
	}{
		{"Accounts", testAccounts},
		{"Devices", testDevices},
		{"DeleteDevices", testDeleteDevices},
		{"ConsentLedger", testConsentLedger},
		{"KEKs", testKEKs},
		{"DataKeys", testDataKeys},
		{"DataKeysWrappedBefore", testDataKeysWrappedBefore},
		{"CountDataKeys", testCountDataKeys},
		{"RewrapDataKeys", testRewrapDataKeys},
		{"DeleteKEK", testDeleteKEK},
		{"DataKeyUnderRetiredKEK", testDataKeyUnderRetiredKEK},
		{"ConcurrentRetireKEK", testConcurrentRetireKEK},
		{"Rotation", testRotation},
		{"ConcurrentRewrap", testConcurrentRewrap},
		{"ApplyChangesConsent", testApplyChangesConsent},
		{"ApplyChangesCompareAndSet", testApplyChangesCAS},
		{"ApplyChangesInvalid", testApplyChangesInvalid},
		{"Tombstones", testTombstones},
		{"FeedSeqs", testFeedSeqs},
		{"ChangesPaging", testChangesPaging},
		{"ConsentOffDestroysCategory", testConsentOff},
		{"DeleteAccount", testDeleteAccount},
		{"ConcurrentApply", testConcurrentApply},
		{"ConcurrentConsentOff", testConcurrentConsentOff},
		{"AuditAccess", testAuditRegionAccess},
		{"AuditConcurrentAccess", testAuditConcurrentRegionAccess},
		{"Uploads", testUploads},
		{"Usage", testUsage},
		{"PurgeTombstones", testPurgeTombstones},
		{"MessagingKeys", testMessagingKeys},
		{"Envelopes", testEnvelopes},
		{"EnvelopesLargeBatches", testLargeBatches},
		{"ConcurrentAck", testConcurrentAck},
		{"Receipts", testReceipts},
		{"ExpireEnvelopes", testExpireEnvelopes},
		{"DeleteMessaging", testDeleteMessaging},
		{"DeleteDeviceMessaging", testDeleteDeviceMessaging},
		{"DeleteAccountMessaging", testDeleteAccountMessaging},
		{"ExportNotFound", testExportNotFound},
		{"ExportConsistent", testExportConsistent},
		{"AccountsByCountry", testAccountsByCountry},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
	for _, tc := range migrationTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
	for _, tc := range auditLogTests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// regionT bundles a store and a test with the helpers the subtests share;
// each helper fails the test on an unexpected error.
type regionT struct {
	*testing.T
	r   store.Region
	ctx context.Context
}

func with(t *testing.T, r store.Region) regionT { return regionT{t, r, t.Context()} }

func (rt regionT) newAccount() candor.AccountID {
	rt.Helper()
	id := candor.AccountID(newID("acc"))
	must(rt.T, rt.r.CreateAccount(rt.ctx, store.Account{
		ID: id, Country: "IN", Salt: randBytes(16),
		KDF:      store.KDF{Time: 3, MemoryKiB: 64 * 1024, Threads: 4},
		AuthHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
	}))
	return id
}

func (rt regionT) consent(a candor.AccountID, c candor.Category, on bool) store.ConsentEvent {
	rt.Helper()
	e, err := rt.r.AppendConsent(rt.ctx, logged(), store.ConsentEvent{
		Account: a, Category: c, On: on, Device: candor.DeviceID(newID("dev")), PolicyVersion: candor.PolicyVersion,
	})
	must(rt.T, err)
	return e
}

// epoch returns the consent epoch of (a, c): the Seq of its latest event
// (which Changes refuses unless that event is "on").
func (rt regionT) epoch(a candor.AccountID, c candor.Category) int64 {
	rt.Helper()
	state, err := rt.r.ConsentState(rt.ctx, a)
	must(rt.T, err)
	return state[c].Seq
}

// enable turns c on for a and returns the epoch.
func (rt regionT) enable(a candor.AccountID, c candor.Category) int64 {
	rt.Helper()
	return rt.consent(a, c, true).Seq
}

func (rt regionT) dataKey(a candor.AccountID, c candor.Category, epoch int64) store.DataKey {
	rt.Helper()
	rt.haveKEK(1)
	k, err := rt.r.CreateDataKey(rt.ctx, store.DataKey{Account: a, Category: c, Epoch: epoch,
		Key: store.WrappedKey{Version: 1, Wrapper: 1, Wrapped: randBytes(60)}})
	must(rt.T, err)
	return k
}

// apply applies changes and fails unless every one was applied.
func (rt regionT) apply(a candor.AccountID, c candor.Category, epoch int64, changes ...store.Change) []store.Result {
	rt.Helper()
	res, err := rt.r.ApplyChanges(rt.ctx, logged(), a, c, epoch, changes)
	must(rt.T, err)
	if len(res) != len(changes) {
		rt.Fatalf("ApplyChanges returned %d results for %d changes", len(res), len(changes))
	}
	for i, x := range res {
		if !x.Applied {
			rt.Fatalf("change %d (%s) not applied: current version %d", i, changes[i].ID, x.Current.Version)
		}
	}
	return res
}

// feed returns all records of (a, c) from the start of the feed. For a
// category that is off it checks that Changes refuses it and that no live
// record of it is left, and returns none.
func (rt regionT) feed(a candor.AccountID, c candor.Category) []store.Record {
	rt.Helper()
	if state, err := rt.r.ConsentState(rt.ctx, a); err != nil || !state[c].On {
		must(rt.T, err)
		_, err := rt.r.Changes(rt.ctx, logged(), a, c, state[c].Seq, 0, 50)
		wantConsentRequired(rt.T, err, c)
		if n := rt.count(a, c); n != 0 {
			rt.Fatalf("%s is off but %d of its records are left", c, n)
		}
		return nil
	}
	var all []store.Record
	since := int64(0)
	for {
		recs, err := rt.r.Changes(rt.ctx, logged(), a, c, rt.epoch(a, c), since, 50)
		must(rt.T, err)
		if len(recs) == 0 {
			return all
		}
		all = append(all, recs...)
		since = recs[len(recs)-1].Seq
	}
}

func (rt regionT) count(a candor.AccountID, c candor.Category) int {
	rt.Helper()
	n, err := rt.r.CountRecords(rt.ctx, a, c)
	must(rt.T, err)
	return n
}

func (rt regionT) wantNoDataKey(a candor.AccountID, c candor.Category) {
	rt.Helper()
	_, err := rt.r.DataKey(rt.ctx, a, c)
	wantKind(rt.T, err, candor.NotFound)
}

func create(id string, ct []byte) store.Change {
	return store.Change{ID: id, BaseVersion: 0, Version: 1, Ciphertext: ct}
}

func update(id string, base int64, ct []byte) store.Change {
	return store.Change{ID: id, BaseVersion: base, Version: base + 1, Ciphertext: ct}
}

func deletion(id string, base int64) store.Change {
	return store.Change{ID: id, BaseVersion: base, Version: base + 1, Deleted: true}
}

func ids(recs []store.Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, r.ID)
	}
	return s
}

func wantIDs(t *testing.T, what string, recs []store.Record, want ...string) {
	t.Helper()
	if got := ids(recs); !slices.Equal(got, want) {
		t.Fatalf("%s: records %v, want %v", what, got, want)
	}
}

func testAccounts(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := store.Account{
		ID: candor.AccountID(newID("acc")), Country: "SG", Salt: randBytes(16),
		KDF:      store.KDF{Time: 4, MemoryKiB: 1 << 20, Threads: 255},
		AuthHash: "$argon2id$v=19$m=1048576,t=4,p=255$c2FsdA$aGFzaA", Created: testTime,
	}
	must(t, r.CreateAccount(rt.ctx, a))
	got, err := r.Account(rt.ctx, a.ID)
	must(t, err)
	if got.ID != a.ID || got.Country != a.Country || got.KDF != a.KDF || got.AuthHash != a.AuthHash {
		t.Fatalf("Account = %+v, want %+v", got, a)
	}
	wantBytes(t, "Salt", got.Salt, a.Salt)
	wantTime(t, "Created", got.Created, a.Created)

	dup := a
	dup.Country, dup.Salt = "IN", randBytes(16)
	wantKind(t, r.CreateAccount(rt.ctx, dup), candor.Conflict)
	got, err = r.Account(rt.ctx, a.ID)
	must(t, err)
	wantBytes(t, "Salt after conflicting create", got.Salt, a.Salt)

	_, err = r.Account(rt.ctx, candor.AccountID(newID("acc")))
	wantKind(t, err, candor.NotFound)

	id := rt.newAccount() // zero Created
	got, err = r.Account(rt.ctx, id)
	must(t, err)
	if !recent(got.Created) {
		t.Fatalf("zero Created stored as %v, want the time of the call", got.Created)
	}

	must(t, r.DeleteAccount(rt.ctx, logged(), candor.AccountID(newID("acc"))))
}

func testDevices(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	pseud := randBytes(32)
	d1 := store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: pseud, Created: testTime}
	got, err := r.RegisterDevice(rt.ctx, logged(), d1)
	must(t, err)
	wantDevice := func(what string, got, want store.Device) {
		t.Helper()
		if got.ID != want.ID || got.Account != want.Account {
			t.Fatalf("%s = %s/%s, want %s/%s", what, got.Account, got.ID, want.Account, want.ID)
		}
		wantBytes(t, what+" pseudonym", got.Pseudonym, want.Pseudonym)
		wantTime(t, what+" created", got.Created, want.Created)
		if got.Kind != want.Kind || got.Name != want.Name {
			t.Fatalf("%s kind, name = %q, %q, want %q, %q", what, got.Kind, got.Name, want.Kind, want.Name)
		}
	}
	wantDevice("RegisterDevice", got, d1)

	// Same (account, pseudonym): the first registration, unchanged.
	again := store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: pseud, Created: testTime.Add(time.Hour)}
	got, err = r.RegisterDevice(rt.ctx, logged(), again)
	must(t, err)
	wantDevice("second RegisterDevice", got, d1)

	// The same pseudonym under another account is another device.
	db := store.Device{ID: candor.DeviceID(newID("dev")), Account: b, Pseudonym: pseud, Created: testTime}
	got, err = r.RegisterDevice(rt.ctx, logged(), db)
	must(t, err)
	wantDevice("RegisterDevice for another account", got, db)

	older := store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: randBytes(32), Created: testTime.Add(-time.Hour)}
	// An app password is a device with a kind and its owner's label.
	newer := store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: randBytes(32), Created: testTime.Add(time.Hour),
		Kind: store.DeviceApp, Name: "Thunderbird"}
	for _, d := range []store.Device{newer, older} {
		_, err := r.RegisterDevice(rt.ctx, logged(), d)
		must(t, err)
	}
	ds, err := r.Devices(rt.ctx, a)
	must(t, err)
	if len(ds) != 3 {
		t.Fatalf("Devices = %d devices, want 3", len(ds))
	}
	for i, want := range []store.Device{older, d1, newer} {
		wantDevice(fmt.Sprintf("Devices[%d]", i), ds[i], want)
	}

	// A device id taken by another device.
	_, err = r.RegisterDevice(rt.ctx, logged(), store.Device{ID: d1.ID, Account: a, Pseudonym: randBytes(32)})
	wantKind(t, err, candor.Conflict)

	// Chosen here: an unknown account is NotFound.
	_, err = r.RegisterDevice(rt.ctx, logged(), store.Device{ID: candor.DeviceID(newID("dev")), Account: candor.AccountID(newID("acc")), Pseudonym: randBytes(32)})
	wantKind(t, err, candor.NotFound)

	ds, err = r.Devices(rt.ctx, candor.AccountID(newID("acc")))
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("Devices of an unknown account = %d devices", len(ds))
	}
}

func testConsentLedger(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	dev := candor.DeviceID(newID("dev"))
	first, err := r.AppendConsent(rt.ctx, logged(), store.ConsentEvent{
		Account: a, Category: candor.Contacts, On: true, Device: dev, Time: testTime, PolicyVersion: "2026-01-01",
	})
	must(t, err)
	wantTime(t, "kept Time", first.Time, testTime)
	if first.Account != a || first.Category != candor.Contacts || !first.On || first.Device != dev || first.PolicyVersion != "2026-01-01" {
		t.Fatalf("AppendConsent returned %+v", first)
	}

	var wantA []store.ConsentEvent
	wantA = append(wantA, first)
	rt.consent(b, candor.Notes, true)
	wantA = append(wantA, rt.consent(a, candor.Notes, true))
	rt.consent(b, candor.Notes, false)
	off := rt.consent(a, candor.Contacts, false)
	if !recent(off.Time) {
		t.Fatalf("zero Time stored as %v, want the time of the call", off.Time)
	}
	wantA = append(wantA, off)
	for i := 1; i < len(wantA); i++ {
		if wantA[i].Seq <= wantA[i-1].Seq {
			t.Fatalf("Seqs of one account not increasing: %d after %d", wantA[i].Seq, wantA[i-1].Seq)
		}
	}

	ledger, err := r.ConsentLedger(rt.ctx, logged(), a)
	must(t, err)
	if len(ledger) != len(wantA) {
		t.Fatalf("ConsentLedger has %d events, want %d", len(ledger), len(wantA))
	}
	for i, e := range ledger {
		w := wantA[i]
		if e.Seq != w.Seq || e.Account != w.Account || e.Category != w.Category || e.On != w.On ||
			e.Device != w.Device || e.PolicyVersion != w.PolicyVersion || !sameTime(e.Time, w.Time) {
			t.Fatalf("ConsentLedger[%d] = %+v, want %+v", i, e, w)
		}
	}
	lb, err := r.ConsentLedger(rt.ctx, logged(), b)
	must(t, err)
	if len(lb) != 2 || lb[0].On != true || lb[1].On != false || lb[1].Seq <= lb[0].Seq {
		t.Fatalf("ConsentLedger of the other account = %+v", lb)
	}

	state, err := r.ConsentState(rt.ctx, a)
	must(t, err)
	if len(state) != 2 {
		t.Fatalf("ConsentState has %d categories, want 2: %+v", len(state), state)
	}
	if e := state[candor.Contacts]; e.Seq != off.Seq || e.On {
		t.Fatalf("ConsentState[contacts] = %+v, want the off event %d", e, off.Seq)
	}
	if e := state[candor.Notes]; e.Seq != wantA[1].Seq || !e.On {
		t.Fatalf("ConsentState[notes] = %+v, want the on event %d", e, wantA[1].Seq)
	}
	if _, ok := state[candor.SMS]; ok {
		t.Fatalf("ConsentState has a category never touched")
	}

	unknown := candor.AccountID(newID("acc"))
	ledger, err = r.ConsentLedger(rt.ctx, logged(), unknown)
	must(t, err)
	state, err = r.ConsentState(rt.ctx, unknown)
	must(t, err)
	if len(ledger) != 0 || len(state) != 0 {
		t.Fatalf("an unknown account has consent: %v %v", ledger, state)
	}
	// Chosen here: an unknown account is NotFound.
	_, err = r.AppendConsent(rt.ctx, logged(), store.ConsentEvent{Account: unknown, Category: candor.Notes, On: true})
	wantKind(t, err, candor.NotFound)
}

func testKEKs(t *testing.T, r store.Region) {
	rt := with(t, r)
	ks, err := r.KEKs(rt.ctx)
	must(t, err)
	if len(ks) != 0 {
		t.Fatalf("a fresh store has %d KEKs", len(ks))
	}
	k1 := store.WrappedKey{Version: 1, Wrapper: 7, Wrapped: randBytes(72), Created: testTime}
	k2 := store.WrappedKey{Version: 2, Wrapper: 8, Wrapped: randBytes(72), Created: testTime.Add(time.Hour)}
	must(t, r.PutKEK(rt.ctx, k1))
	must(t, r.PutKEK(rt.ctx, k2))
	wantKind(t, r.PutKEK(rt.ctx, store.WrappedKey{Version: 1, Wrapper: 9, Wrapped: randBytes(72)}), candor.Conflict)
	ks, err = r.KEKs(rt.ctx)
	must(t, err)
	if len(ks) != 2 {
		t.Fatalf("KEKs = %d keys, want 2", len(ks))
	}
	for i, want := range []store.WrappedKey{k1, k2} {
		got := ks[i]
		if got.Version != want.Version || got.Wrapper != want.Wrapper {
			t.Fatalf("KEKs[%d] = v%d/%d, want v%d/%d", i, got.Version, got.Wrapper, want.Version, want.Wrapper)
		}
		wantBytes(t, "Wrapped", got.Wrapped, want.Wrapped)
		wantTime(t, "Created", got.Created, want.Created)
	}
}

func testDataKeys(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	k := store.DataKey{Account: a, Category: candor.Contacts, Epoch: 1,
		Key: store.WrappedKey{Version: 3, Wrapper: 2, Wrapped: randBytes(60), Created: testTime}}
	rt.haveKEK(2)

	_, err := r.CreateDataKey(rt.ctx, k)
	wantConsentRequired(t, err, candor.Contacts)
	rt.wantNoDataKey(a, candor.Contacts)

	epoch := rt.enable(a, candor.Contacts)
	k.Epoch = epoch + 1
	_, err = r.CreateDataKey(rt.ctx, k)
	wantConsentRequired(t, err, candor.Contacts)
	rt.wantNoDataKey(a, candor.Contacts)

	k.Epoch = epoch
	got, err := r.CreateDataKey(rt.ctx, k)
	must(t, err)
	wantKey := func(what string, got, want store.DataKey) {
		t.Helper()
		if got.Account != want.Account || got.Category != want.Category || got.Epoch != want.Epoch ||
			got.Key.Version != want.Key.Version || got.Key.Wrapper != want.Key.Wrapper {
			t.Fatalf("%s = %+v, want %+v", what, got, want)
		}
		wantBytes(t, what+" wrapped", got.Key.Wrapped, want.Key.Wrapped)
		wantTime(t, what+" created", got.Key.Created, want.Key.Created)
	}
	wantKey("CreateDataKey", got, k)

	// A second create returns the first key and discards its own.
	other := k
	other.Key = store.WrappedKey{Version: 4, Wrapper: 2, Wrapped: randBytes(60)}
	got, err = r.CreateDataKey(rt.ctx, other)
	must(t, err)
	wantKey("second CreateDataKey", got, k)
	got, err = r.DataKey(rt.ctx, a, candor.Contacts)
	must(t, err)
	wantKey("DataKey", got, k)

	rt.wantNoDataKey(a, candor.Notes)
	rt.wantNoDataKey(rt.newAccount(), candor.Contacts)

	rt.consent(a, candor.Contacts, false)
	rt.wantNoDataKey(a, candor.Contacts)
	_, err = r.CreateDataKey(rt.ctx, k)
	wantConsentRequired(t, err, candor.Contacts)

	epoch2 := rt.enable(a, candor.Contacts)
	if epoch2 <= epoch {
		t.Fatalf("new epoch %d not after %d", epoch2, epoch)
	}
	_, err = r.CreateDataKey(rt.ctx, k) // the old epoch
	wantConsentRequired(t, err, candor.Contacts)
	k.Epoch, k.Key.Wrapped = epoch2, randBytes(60)
	got, err = r.CreateDataKey(rt.ctx, k)
	must(t, err)
	wantKey("CreateDataKey in the new epoch", got, k)
}

func testApplyChangesConsent(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	ch := []store.Change{create(newID("rec"), randBytes(40))}

	_, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, 1, ch)
	wantConsentRequired(t, err, candor.Contacts)
	wantIDs(t, "after refused change", rt.feed(a, candor.Contacts))

	epoch := rt.enable(a, candor.Contacts)
	_, err = r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, epoch+1, ch)
	wantKind(t, err, candor.Conflict)
	wantIDs(t, "after change in another epoch", rt.feed(a, candor.Contacts))

	_, err = r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, ch)
	wantConsentRequired(t, err, candor.Notes)
	wantIDs(t, "notes after refused change", rt.feed(a, candor.Notes))

	rt.apply(a, candor.Contacts, epoch, ch...)
	rt.consent(a, candor.Contacts, false)
	_, err = r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, epoch, []store.Change{create(newID("rec"), randBytes(40))})
	wantConsentRequired(t, err, candor.Contacts)
	wantIDs(t, "after off", rt.feed(a, candor.Contacts))
	if n := rt.count(a, candor.Contacts); n != 0 {
		t.Fatalf("CountRecords after off = %d", n)
	}

	// Chosen here: an unknown account is NotFound.
	_, err = r.ApplyChanges(rt.ctx, logged(), candor.AccountID(newID("acc")), candor.Contacts, epoch, ch)
	wantKind(t, err, candor.NotFound)
}

func testApplyChangesCAS(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Contacts)
	r1, r2, r3, r4, absent := newID("rec"), newID("rec"), newID("rec"), newID("rec"), newID("rec")
	ct := map[string][]byte{r1: randBytes(100), r2: randBytes(1), r3: randBytes(5000)}

	res := rt.apply(a, candor.Contacts, epoch, create(r1, ct[r1]), create(r2, ct[r2]), create(r3, ct[r3]))
	for i, x := range res {
		if x.ID != []string{r1, r2, r3}[i] || x.Version != 1 {
			t.Fatalf("Result[%d] = %+v", i, x)
		}
		if i > 0 && x.Seq != res[i-1].Seq+1 {
			t.Fatalf("Seqs of one call not consecutive: %d after %d", x.Seq, res[i-1].Seq)
		}
	}
	recs := rt.feed(a, candor.Contacts)
	wantIDs(t, "feed", recs, r1, r2, r3)
	for i, rec := range recs {
		if rec.Account != a || rec.Category != candor.Contacts || rec.Version != 1 || rec.Seq != res[i].Seq || rec.Deleted {
			t.Fatalf("record %d = %+v, want version 1 seq %d", i, rec, res[i].Seq)
		}
		wantBytes(t, "Ciphertext", rec.Ciphertext, ct[rec.ID])
		if !recent(rec.Modified) {
			t.Fatalf("Modified = %v, want the time of the change", rec.Modified)
		}
	}
	stored2 := recs[1]

	ct1b, ct4 := randBytes(100), randBytes(10)
	changes := []store.Change{
		update(r1, 1, ct1b),                 // applies
		create(r2, randBytes(3)),            // r2 exists: conflict
		create(r4, ct4),                     // applies
		update(absent, 3, randBytes(3)),     // no such record: conflict
		update(r3, 2, randBytes(3)),         // stale base: conflict
		update(r4, 1, nil), deletion(r4, 2), // later changes see earlier ones in the batch
	}
	res, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, epoch, changes)
	must(t, err)
	if len(res) != len(changes) {
		t.Fatalf("%d results for %d changes", len(res), len(changes))
	}
	for i, x := range res {
		if x.ID != changes[i].ID {
			t.Fatalf("Result[%d].ID = %s, want %s", i, x.ID, changes[i].ID)
		}
		want := i == 0 || i == 2 || i == 5 || i == 6
		if x.Applied != want {
			t.Fatalf("Result[%d].Applied = %v, want %v", i, x.Applied, want)
		}
	}
	last := recs[2].Seq
	for _, i := range []int{0, 2, 5, 6} {
		if res[i].Seq != last+1 || res[i].Version != changes[i].Version {
			t.Fatalf("applied Result[%d] = seq %d version %d, want seq %d version %d", i, res[i].Seq, res[i].Version, last+1, changes[i].Version)
		}
		last = res[i].Seq
	}
	cur := res[1].Current
	if cur.ID != r2 || cur.Version != 1 || cur.Seq != stored2.Seq || cur.Deleted {
		t.Fatalf("Current of a conflict = %+v, want %+v", cur, stored2)
	}
	wantBytes(t, "Current.Ciphertext", cur.Ciphertext, ct[r2])
	if cur := res[3].Current; cur.Version != 0 || cur.Seq != 0 || cur.Deleted || len(cur.Ciphertext) != 0 || cur.ID != "" {
		t.Fatalf("Current of an absent record = %+v, want a zero Record", cur)
	}
	if cur := res[4].Current; cur.ID != r3 || cur.Version != 1 {
		t.Fatalf("Current of a stale change = %+v", cur)
	}

	recs = rt.feed(a, candor.Contacts)
	wantIDs(t, "feed after the batch", recs, r2, r3, r1, r4)
	wantBytes(t, "unchanged r2", recs[0].Ciphertext, ct[r2])
	wantBytes(t, "unchanged r3", recs[1].Ciphertext, ct[r3])
	wantBytes(t, "updated r1", recs[2].Ciphertext, ct1b)
	if recs[2].Version != 2 || recs[3].Version != 3 || !recs[3].Deleted {
		t.Fatalf("feed after the batch = %+v", recs)
	}
	if n := rt.count(a, candor.Contacts); n != 3 {
		t.Fatalf("CountRecords = %d, want 3", n)
	}

	// An empty batch writes nothing.
	res, err = r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, epoch, nil)
	must(t, err)
	if len(res) != 0 {
		t.Fatalf("an empty batch has %d results", len(res))
	}
}

// Chosen here: a malformed change is Invalid and nothing of the batch is
// written.
func testApplyChangesInvalid(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Notes)
	good := create(newID("rec"), randBytes(8))
	for name, bad := range map[string]store.Change{
		"empty id":                {ID: "", BaseVersion: 0, Version: 1, Ciphertext: randBytes(8)},
		"version not base+1":      {ID: newID("rec"), BaseVersion: 0, Version: 2, Ciphertext: randBytes(8)},
		"deletion with cipertext": {ID: newID("rec"), BaseVersion: 1, Version: 2, Deleted: true, Ciphertext: randBytes(8)},
	} {
		_, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, []store.Change{good, bad})
		if !candor.Is(err, candor.Invalid) {
			t.Fatalf("%s: got %v, want Invalid", name, err)
		}
	}
	wantIDs(t, "after invalid batches", rt.feed(a, candor.Notes))
	_, err := r.Changes(rt.ctx, logged(), a, candor.Notes, rt.epoch(a, candor.Notes), 0, 0)
	wantKind(t, err, candor.Invalid)
}

func testTombstones(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Notes)
	id, other := newID("rec"), newID("rec")
	rt.apply(a, candor.Notes, epoch, create(id, randBytes(30)), create(other, randBytes(30)))
	res := rt.apply(a, candor.Notes, epoch, deletion(id, 1))
	recs := rt.feed(a, candor.Notes)
	wantIDs(t, "feed", recs, other, id)
	if tomb := recs[1]; !tomb.Deleted || tomb.Version != 2 || len(tomb.Ciphertext) != 0 || tomb.Seq != res[0].Seq {
		t.Fatalf("tombstone = %+v, want deleted version 2 seq %d with no ciphertext", tomb, res[0].Seq)
	}
	if n := rt.count(a, candor.Notes); n != 1 {
		t.Fatalf("CountRecords = %d, want 1 (tombstones are not live)", n)
	}

	res, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, []store.Change{deletion(id, 1)})
	must(t, err)
	if res[0].Applied || !res[0].Current.Deleted || res[0].Current.Version != 2 {
		t.Fatalf("stale deletion = %+v, want a conflict with the tombstone", res[0])
	}
	// A deleted record comes back from its tombstone's version.
	ct := randBytes(30)
	rt.apply(a, candor.Notes, epoch, update(id, 2, ct))
	recs = rt.feed(a, candor.Notes)
	wantIDs(t, "feed after undelete", recs, other, id)
	if recs[1].Deleted || recs[1].Version != 3 {
		t.Fatalf("undeleted record = %+v", recs[1])
	}
	wantBytes(t, "undeleted ciphertext", recs[1].Ciphertext, ct)
	if n := rt.count(a, candor.Notes); n != 2 {
		t.Fatalf("CountRecords = %d, want 2", n)
	}
}

// testFeedSeqs checks that the feed is per account, shared by its
// categories, and dense: each applied change takes the account's next Seq.
func testFeedSeqs(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, b := rt.newAccount(), rt.newAccount()
	ea := map[candor.Category]int64{candor.Contacts: rt.enable(a, candor.Contacts), candor.Notes: rt.enable(a, candor.Notes)}
	eb := rt.enable(b, candor.Contacts)
	c1, c2, c3, n1 := newID("rec"), newID("rec"), newID("rec"), newID("rec")

	var seqA, seqB []int64
	add := func(s *[]int64, res []store.Result) {
		for _, x := range res {
			*s = append(*s, x.Seq)
		}
	}
	add(&seqA, rt.apply(a, candor.Contacts, ea[candor.Contacts], create(c1, randBytes(9)), create(c2, randBytes(9))))
	add(&seqB, rt.apply(b, candor.Contacts, eb, create(newID("rec"), randBytes(9))))
	add(&seqA, rt.apply(a, candor.Notes, ea[candor.Notes], create(n1, randBytes(9))))
	add(&seqB, rt.apply(b, candor.Contacts, eb, create(newID("rec"), randBytes(9)), create(newID("rec"), randBytes(9))))
	add(&seqA, rt.apply(a, candor.Contacts, ea[candor.Contacts], create(c3, randBytes(9))))
	add(&seqA, rt.apply(a, candor.Notes, ea[candor.Notes], update(n1, 1, randBytes(9))))
	for name, seqs := range map[string][]int64{"first account": seqA, "second account": seqB} {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("%s: feed Seqs %v are not consecutive", name, seqs)
			}
		}
	}

	contacts := rt.feed(a, candor.Contacts)
	wantIDs(t, "contacts", contacts, c1, c2, c3)
	notes := rt.feed(a, candor.Notes)
	wantIDs(t, "notes", notes, n1)
	if notes[0].Seq != seqA[len(seqA)-1] || notes[0].Version != 2 {
		t.Fatalf("updated record = %+v, want it at seq %d", notes[0], seqA[len(seqA)-1])
	}
	if len(rt.feed(b, candor.Contacts)) != 3 || len(rt.feed(b, candor.Notes)) != 0 {
		t.Fatalf("the second account's feed is wrong")
	}
}

func testChangesPaging(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	ec, en := rt.enable(a, candor.Contacts), rt.enable(a, candor.Notes)
	var want []string
	for i := range 10 {
		id := newID("rec")
		want = append(want, id)
		rt.apply(a, candor.Contacts, ec, create(id, randBytes(20)))
		if i%3 == 0 {
			rt.apply(a, candor.Notes, en, create(newID("rec"), randBytes(20)))
		}
	}
	all, err := r.Changes(rt.ctx, logged(), a, candor.Contacts, rt.epoch(a, candor.Contacts), 0, 100)
	must(t, err)
	wantIDs(t, "Changes(0, 100)", all, want...)

	var paged []store.Record
	var sizes []int
	since := int64(0)
	for {
		page, err := r.Changes(rt.ctx, logged(), a, candor.Contacts, rt.epoch(a, candor.Contacts), since, 3)
		must(t, err)
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		for _, rec := range page {
			if rec.Seq <= since {
				t.Fatalf("page holds seq %d, not after %d", rec.Seq, since)
			}
			since = rec.Seq
		}
		paged = append(paged, page...)
	}
	wantIDs(t, "paged", paged, want...)
	if !slices.Equal(sizes, []int{3, 3, 3, 1, 0}) {
		t.Fatalf("page sizes %v, want [3 3 3 1 0]", sizes)
	}
	mid, err := r.Changes(rt.ctx, logged(), a, candor.Contacts, rt.epoch(a, candor.Contacts), all[4].Seq, 100)
	must(t, err)
	wantIDs(t, "Changes from the middle", mid, want[5:]...)
	if n := rt.count(a, candor.Contacts); n != 10 {
		t.Fatalf("CountRecords = %d, want 10", n)
	}
	if n := rt.count(a, candor.Notes); n != 4 {
		t.Fatalf("CountRecords(notes) = %d, want 4", n)
	}
}

// fullAccount creates an account with a device, contacts and notes on, a
// data key and two records in each.
func (rt regionT) fullAccount() (candor.AccountID, map[candor.Category]int64) {
	rt.Helper()
	a := rt.newAccount()
	_, err := rt.r.RegisterDevice(rt.ctx, logged(), store.Device{ID: candor.DeviceID(newID("dev")), Account: a, Pseudonym: randBytes(32)})
	must(rt.T, err)
	epochs := map[candor.Category]int64{}
	for _, c := range []candor.Category{candor.Contacts, candor.Notes} {
		epochs[c] = rt.enable(a, c)
		rt.dataKey(a, c, epochs[c])
		rt.apply(a, c, epochs[c], create(newID("rec"), randBytes(50)), create(newID("rec"), randBytes(50)))
	}
	return a, epochs
}

func (rt regionT) wantIntact(a candor.AccountID) {
	rt.Helper()
	for _, c := range []candor.Category{candor.Contacts, candor.Notes} {
		if _, err := rt.r.DataKey(rt.ctx, a, c); err != nil {
			rt.Fatalf("DataKey(%s) of an untouched account: %v", c, err)
		}
		if n := len(rt.feed(a, c)); n != 2 {
			rt.Fatalf("untouched account has %d %s records, want 2", n, c)
		}
	}
}

func testConsentOff(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, ea := rt.fullAccount()
	b, _ := rt.fullAccount()
	before := rt.feed(a, candor.Notes)
	maxSeq := max(before[1].Seq, rt.feed(a, candor.Contacts)[1].Seq)

	rt.consent(a, candor.Contacts, false)
	rt.wantNoDataKey(a, candor.Contacts)
	wantIDs(t, "contacts after off", rt.feed(a, candor.Contacts))
	if n := rt.count(a, candor.Contacts); n != 0 {
		t.Fatalf("CountRecords after off = %d", n)
	}
	_, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, ea[candor.Contacts], []store.Change{create(newID("rec"), randBytes(8))})
	wantConsentRequired(t, err, candor.Contacts)

	// Other categories and accounts are untouched.
	if _, err := r.DataKey(rt.ctx, a, candor.Notes); err != nil {
		t.Fatalf("DataKey(notes) after contacts off: %v", err)
	}
	wantIDs(t, "notes after contacts off", rt.feed(a, candor.Notes), ids(before)...)
	rt.wantIntact(b)

	// On again: a new epoch, a new key, and the feed moves on.
	epoch := rt.enable(a, candor.Contacts)
	rt.dataKey(a, candor.Contacts, epoch)
	res := rt.apply(a, candor.Contacts, epoch, create(newID("rec"), randBytes(8)))
	if res[0].Seq <= maxSeq {
		t.Fatalf("feed Seq %d reused after off (last was %d)", res[0].Seq, maxSeq)
	}
}

func testDeleteAccount(t *testing.T, r store.Region) {
	rt := with(t, r)
	a, _ := rt.fullAccount()
	b, _ := rt.fullAccount()
	rt.haveKEK(1) // the accounts' data keys need it already

	must(t, r.DeleteAccount(rt.ctx, logged(), a))
	_, err := r.Account(rt.ctx, a)
	wantKind(t, err, candor.NotFound)
	ds, err := r.Devices(rt.ctx, a)
	must(t, err)
	ledger, err := r.ConsentLedger(rt.ctx, logged(), a)
	must(t, err)
	state, err := r.ConsentState(rt.ctx, a)
	must(t, err)
	if len(ds) != 0 || len(ledger) != 0 || len(state) != 0 {
		t.Fatalf("after DeleteAccount: %d devices, %d ledger events, %d states", len(ds), len(ledger), len(state))
	}
	for _, c := range []candor.Category{candor.Contacts, candor.Notes} {
		rt.wantNoDataKey(a, c)
		wantIDs(t, "feed after DeleteAccount", rt.feed(a, c))
		if n := rt.count(a, c); n != 0 {
			t.Fatalf("CountRecords after DeleteAccount = %d", n)
		}
	}

	if _, err := r.Account(rt.ctx, b); err != nil {
		t.Fatalf("other account after DeleteAccount: %v", err)
	}
	rt.wantIntact(b)
	ds, err = r.Devices(rt.ctx, b)
	must(t, err)
	ledger, err = r.ConsentLedger(rt.ctx, logged(), b)
	must(t, err)
	if len(ds) != 1 || len(ledger) != 2 {
		t.Fatalf("other account: %d devices, %d ledger events", len(ds), len(ledger))
	}
	ks, err := r.KEKs(rt.ctx)
	must(t, err)
	if len(ks) != 1 {
		t.Fatalf("DeleteAccount touched the KEKs")
	}

	// The deleted account waits among the pending erasures until its
	// erasure outside the database is done; the other is not there.
	pending, err := r.PendingErasures(rt.ctx, 10)
	must(t, err)
	if len(pending) != 1 || pending[0] != a {
		t.Fatalf("pending erasures after DeleteAccount: %v, want [%s]", pending, a)
	}
	_, err = r.PendingErasures(rt.ctx, 0)
	wantKind(t, err, candor.Invalid)
	must(t, r.ErasureDone(rt.ctx, a))
	must(t, r.ErasureDone(rt.ctx, a)) // absent: not an error
	if pending, err = r.PendingErasures(rt.ctx, 10); err != nil || len(pending) != 0 {
		t.Fatalf("pending erasures after ErasureDone: %v, %v", pending, err)
	}

	must(t, r.DeleteAccount(rt.ctx, logged(), a)) // absent: not an error
	if pending, err = r.PendingErasures(rt.ctx, 10); err != nil || len(pending) != 0 {
		t.Fatalf("deleting an absent account made it pending: %v, %v", pending, err)
	}

	// The id can be used again, from nothing.
	must(t, r.CreateAccount(rt.ctx, store.Account{ID: a, Country: "IN"}))
	ledger, err = r.ConsentLedger(rt.ctx, logged(), a)
	must(t, err)
	if len(ledger) != 0 {
		t.Fatalf("recreated account has %d ledger events", len(ledger))
	}
	epoch := rt.enable(a, candor.Contacts)
	rt.apply(a, candor.Contacts, epoch, create(newID("rec"), randBytes(8)))
	wantIDs(t, "notes of recreated account", rt.feed(a, candor.Notes))
}

// testConcurrentApply has writers apply changes to one account at once
// while a reader pages the feed. Every change must succeed; the Seqs handed
// out must be dense; the final feed holds each record once; and the reader,
// paging by Seq, must never have skipped a row that committed late.
func testConcurrentApply(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Contacts)
	const writers, batches = 8, 8

	var (
		mu       sync.Mutex
		seqs     []int64
		final    = map[string]store.Result{} // record → its last applied change
		wg       sync.WaitGroup
		done     atomic.Bool
		readerWG sync.WaitGroup
		seen     = map[string]store.Record{}
	)
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		since := int64(0)
		for {
			finished := done.Load()
			page, err := r.Changes(rt.ctx, logged(), a, candor.Contacts, rt.epoch(a, candor.Contacts), since, 7)
			if err != nil {
				t.Errorf("reader: %v", err)
				return
			}
			for _, rec := range page {
				if rec.Seq <= since {
					t.Errorf("reader: seq %d after %d", rec.Seq, since)
					return
				}
				since = rec.Seq
				seen[rec.ID] = rec
			}
			if len(page) == 0 && finished {
				return
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			versions := map[string]int64{}
			var mine []string
			for i := range batches {
				changes := []store.Change{create(newID("rec"), randBytes(16)), create(newID("rec"), randBytes(16))}
				if len(mine) > 0 {
					id := mine[(w+i)%len(mine)]
					changes = append(changes, update(id, versions[id], randBytes(16)))
				}
				res, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Contacts, epoch, changes)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				for j, x := range res {
					if !x.Applied {
						t.Errorf("writer %d: change not applied", w)
					}
					if versions[x.ID] == 0 {
						mine = append(mine, x.ID)
					}
					versions[x.ID] = changes[j].Version
					seqs = append(seqs, x.Seq)
					final[x.ID] = x
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readerWG.Wait()
	if t.Failed() {
		return
	}

	slices.Sort(seqs)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("feed Seqs handed out are not dense: %d then %d", seqs[i-1], seqs[i])
		}
	}
	recs := rt.feed(a, candor.Contacts)
	if len(recs) != len(final) || len(recs) != writers*batches*2 {
		t.Fatalf("feed has %d records, want %d", len(recs), len(final))
	}
	got := map[string]bool{}
	for i, rec := range recs {
		if got[rec.ID] {
			t.Fatalf("record %s twice in the feed", rec.ID)
		}
		got[rec.ID] = true
		if i > 0 && rec.Seq <= recs[i-1].Seq {
			t.Fatalf("feed Seqs not increasing: %d after %d", rec.Seq, recs[i-1].Seq)
		}
		if f := final[rec.ID]; rec.Seq != f.Seq || rec.Version != f.Version {
			t.Fatalf("record at seq %d version %d, its last change was seq %d version %d", rec.Seq, rec.Version, f.Seq, f.Version)
		}
		if s := seen[rec.ID]; s.Seq != rec.Seq || s.Version != rec.Version {
			t.Fatalf("concurrent reader missed a row: saw seq %d version %d, final seq %d version %d", s.Seq, s.Version, rec.Seq, rec.Version)
		}
	}
}

// testConcurrentConsentOff turns a category off while writers apply
// changes under its epoch. Once AppendConsent returns, nothing of the
// category may remain and no writer may succeed again.
func testConcurrentConsentOff(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Photos)
	rt.dataKey(a, candor.Photos, epoch)
	const writers = 4
	var wg sync.WaitGroup
	var applied atomic.Int64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			apply := func() error {
				_, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Photos, epoch, []store.Change{create(newID("rec"), randBytes(16))})
				return err
			}
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
				err := apply()
				switch {
				case err == nil:
					applied.Add(1)
					continue
				case candor.Is(err, candor.ConsentRequired):
					// Refused once, refused for good.
					if err := apply(); !candor.Is(err, candor.ConsentRequired) {
						t.Errorf("writer %d: after a refusal: %v", w, err)
					}
				default:
					t.Errorf("writer %d: %v", w, err)
				}
				return
			}
			t.Errorf("writer %d never refused", w)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); applied.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	rt.consent(a, candor.Photos, false)
	wg.Wait()
	wantIDs(t, "feed after off", rt.feed(a, candor.Photos))
	rt.wantNoDataKey(a, candor.Photos)
	if n := rt.count(a, candor.Photos); n != 0 {
		t.Fatalf("CountRecords after off = %d", n)
	}
}
