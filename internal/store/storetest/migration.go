package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// migrationTests need two region stores, a source and a target: each opens
// them with the open function TestRegion was given.
var migrationTests = []struct {
	name string
	fn   func(t *testing.T, open func(t *testing.T) store.Region)
}{
	{"MigrateAccount", testMigrateAccount},
	{"ImportTwice", testImportTwice},
	{"ImportUnderRetiredKEK", testImportUnderRetiredKEK},
	{"ImportOverPartial", testImportOverPartial},
}

// richAccount creates an account with something in every table: two
// devices, a consent ledger with a category turned off again (so the feed
// counter is above every remaining record's Seq), data keys, live records,
// an update, a tombstone, a record with empty ciphertext, uploads,
// messaging keys, envelopes and receipts.
func (rt regionT) richAccount() candor.AccountID {
	rt.Helper()
	ctx := rt.ctx
	a := candor.AccountID(newID("acc"))
	must(rt.T, rt.r.CreateAccount(ctx, store.Account{
		ID: a, Country: "IN", Salt: randBytes(16),
		KDF:      store.KDF{Time: 3, MemoryKiB: 64 * 1024, Threads: 4},
		AuthHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Created: testTime,
	}))
	var devices []candor.DeviceID
	for i := range 2 {
		d, err := rt.r.RegisterDevice(ctx, logged(), store.Device{ID: candor.DeviceID(newID("dev")), Account: a,
			Pseudonym: randBytes(32), Created: testTime.Add(time.Duration(i) * time.Minute)})
		must(rt.T, err)
		devices = append(devices, d.ID)
	}
	at := testTime
	consent := func(c candor.Category, on bool) int64 {
		rt.Helper()
		at = at.Add(time.Second)
		e, err := rt.r.AppendConsent(ctx, logged(), store.ConsentEvent{Account: a, Category: c, On: on, Device: devices[0],
			Time: at, PolicyVersion: candor.PolicyVersion})
		must(rt.T, err)
		return e.Seq
	}
	epochs := map[candor.Category]int64{}
	rt.haveKEK(2)
	for _, c := range []candor.Category{candor.Contacts, candor.Notes, candor.Photos} {
		epochs[c] = consent(c, true)
		_, err := rt.r.CreateDataKey(ctx, store.DataKey{Account: a, Category: c, Epoch: epochs[c],
			Key: store.WrappedKey{Version: 1, Wrapper: 2, Wrapped: randBytes(60), Created: testTime}})
		must(rt.T, err)
	}
	r1, r2, r3 := newID("rec"), newID("rec"), newID("rec")
	rt.apply(a, candor.Contacts, epochs[candor.Contacts], create(r1, randBytes(80)), create(r2, randBytes(80)), create(r3, randBytes(80)))
	rt.apply(a, candor.Contacts, epochs[candor.Contacts], update(r1, 1, randBytes(90)), deletion(r2, 1))
	rt.apply(a, candor.Notes, epochs[candor.Notes], create(newID("rec"), randBytes(120)), create(newID("rec"), nil))
	rt.apply(a, candor.Photos, epochs[candor.Photos], create(newID("rec"), randBytes(40)))
	consent(candor.Photos, false) // its records and key go; the feed counter stays

	for i, c := range []candor.Category{candor.Notes, candor.Contacts} {
		u := store.Upload{ID: newID("upl"), Account: a, Category: c, Size: int64(1000 + i), Hash: randBytes(32),
			Created: testTime, Expires: testTime.Add(time.Hour)}
		must(rt.T, rt.r.CreateUpload(ctx, u))
		if i == 0 {
			must(rt.T, rt.r.CompleteUpload(ctx, logged(), a, u.ID))
		}
	}
	expires := time.Now().Add(time.Hour)
	var envs []store.Envelope
	for i, d := range devices {
		must(rt.T, rt.r.PutMessagingKeys(ctx, store.MessagingKeys{Account: a, Device: d, HPKE: randBytes(32),
			Sign: randBytes(32), Created: testTime}))
		for j := range 2 + i {
			e := envelope(newID("msg"), a, d, testTime.Add(time.Duration(j)*time.Second))
			e.Expires = expires
			envs = append(envs, e)
		}
	}
	must(rt.T, rt.r.Enqueue(ctx, envs))
	must(rt.T, rt.r.PutReceipts(ctx, []store.Receipt{
		{ID: newID("msg"), Account: a, Device: devices[0], ToDevice: candor.DeviceID(newID("dev")), Time: testTime},
		{ID: newID("msg"), Account: a, Device: devices[1], ToDevice: candor.DeviceID(newID("dev")), Time: testTime.Add(time.Second)},
	}))
	return a
}

// export exports a, failing the test on an error.
func (rt regionT) export(a candor.AccountID) store.AccountData {
	rt.Helper()
	d, err := rt.r.ExportAccount(rt.ctx, a)
	must(rt.T, err)
	return d
}

// normalData returns d as the suite compares it: times in UTC at
// millisecond precision, empty byte strings nil, every list sorted by its
// key. The order of AccountData's lists is not part of the contract.
func normalData(d store.AccountData) store.AccountData {
	ms := func(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
	bz := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	n := d
	n.Account.Created, n.Account.Salt = ms(d.Account.Created), bz(d.Account.Salt)
	n.Devices = normal(d.Devices, func(x store.Device) store.Device {
		x.Pseudonym, x.Created = bz(x.Pseudonym), ms(x.Created)
		return x
	}, func(a, b store.Device) int { return cmp.Compare(a.ID, b.ID) })
	n.Consent = normal(d.Consent, func(x store.ConsentEvent) store.ConsentEvent {
		x.Time = ms(x.Time)
		return x
	}, func(a, b store.ConsentEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	n.DataKeys = normal(d.DataKeys, func(x store.DataKey) store.DataKey {
		x.Key.Wrapped, x.Key.Created = bz(x.Key.Wrapped), ms(x.Key.Created)
		return x
	}, func(a, b store.DataKey) int { return cmp.Compare(a.Category, b.Category) })
	n.Records = normal(d.Records, func(x store.Record) store.Record {
		x.Ciphertext, x.Modified = bz(x.Ciphertext), ms(x.Modified)
		return x
	}, func(a, b store.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	n.Uploads = normal(d.Uploads, func(x store.Upload) store.Upload {
		x.Hash, x.Created, x.Expires = bz(x.Hash), ms(x.Created), ms(x.Expires)
		return x
	}, func(a, b store.Upload) int { return cmp.Compare(a.ID, b.ID) })
	n.MessagingKeys = normal(d.MessagingKeys, func(x store.MessagingKeys) store.MessagingKeys {
		x.HPKE, x.Sign, x.Created = bz(x.HPKE), bz(x.Sign), ms(x.Created)
		return x
	}, func(a, b store.MessagingKeys) int { return cmp.Compare(a.Device, b.Device) })
	n.Envelopes = normal(d.Envelopes, func(x store.Envelope) store.Envelope {
		x.Data, x.Created, x.Expires = bz(x.Data), ms(x.Created), ms(x.Expires)
		return x
	}, func(a, b store.Envelope) int { return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.ID, b.ID)) })
	n.Receipts = normal(d.Receipts, func(x store.Receipt) store.Receipt {
		x.Time = ms(x.Time)
		return x
	}, func(a, b store.Receipt) int {
		return cmp.Or(cmp.Compare(a.Device, b.Device), cmp.Compare(a.ID, b.ID), cmp.Compare(a.ToDevice, b.ToDevice))
	})
	return n
}

// normal maps f over a copy of xs (nil when empty) and sorts it by order.
func normal[T any](xs []T, f func(T) T, order func(a, b T) int) []T {
	if len(xs) == 0 {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	slices.SortFunc(out, order)
	return out
}

// wantData fails unless got and want hold the same rows, field by field
// and byte by byte (see normalData).
func wantData(t *testing.T, what string, got, want store.AccountData) {
	t.Helper()
	g, w := normalData(got), normalData(want)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Account", g.Account, w.Account},
		{"FeedSeq", g.FeedSeq, w.FeedSeq},
		{"ConsentSeq", g.ConsentSeq, w.ConsentSeq},
		{"Devices", g.Devices, w.Devices},
		{"Consent", g.Consent, w.Consent},
		{"DataKeys", g.DataKeys, w.DataKeys},
		{"Records", g.Records, w.Records},
		{"Uploads", g.Uploads, w.Uploads},
		{"MessagingKeys", g.MessagingKeys, w.MessagingKeys},
		{"Envelopes", g.Envelopes, w.Envelopes},
		{"Receipts", g.Receipts, w.Receipts},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Fatalf("%s: %s differ:\n got %+v\nwant %+v", what, f.name, f.got, f.want)
		}
	}
}

// wantServes fails unless the store's ordinary reads return exactly the
// rows of d for its account: the account, devices, ledger, data keys, the
// feed of every category (tombstones included), uploads, messaging keys,
// pending envelopes and receipts. The counters are checked by the writes
// that follow.
func (rt regionT) wantServes(what string, d store.AccountData) {
	rt.Helper()
	ctx, a := rt.ctx, d.Account.ID
	served := store.AccountData{FeedSeq: d.FeedSeq, ConsentSeq: d.ConsentSeq}
	var err error
	served.Account, err = rt.r.Account(ctx, a)
	must(rt.T, err)
	served.Devices, err = rt.r.Devices(ctx, a)
	must(rt.T, err)
	served.Consent, err = rt.r.ConsentLedger(ctx, logged(), a)
	must(rt.T, err)
	live := map[candor.Category]int{}
	for _, r := range d.Records {
		if !r.Deleted {
			live[r.Category]++
		}
	}
	for _, c := range candor.Categories() {
		k, err := rt.r.DataKey(ctx, a, c)
		if err == nil {
			served.DataKeys = append(served.DataKeys, k)
		} else if !candor.Is(err, candor.NotFound) {
			rt.Fatalf("DataKey(%s): %v", c, err)
		}
		served.Records = append(served.Records, rt.feed(a, c)...)
		if n := rt.count(a, c); n != live[c] {
			rt.Fatalf("%s: CountRecords(%s) = %d, want %d", what, c, n, live[c])
		}
	}
	for _, u := range d.Uploads {
		got, err := rt.r.Upload(ctx, a, u.ID)
		must(rt.T, err)
		served.Uploads = append(served.Uploads, got)
	}
	served.MessagingKeys, err = rt.r.MessagingKeys(ctx, a)
	must(rt.T, err)
	devices := map[candor.DeviceID]bool{}
	for _, e := range d.Envelopes {
		devices[e.Device] = true
	}
	for _, x := range d.Receipts {
		devices[x.Device] = true
	}
	for dev := range devices {
		envs, err := rt.r.Pending(ctx, a, dev, time.Now(), 10000)
		must(rt.T, err)
		served.Envelopes = append(served.Envelopes, envs...)
		rs, err := rt.r.Receipts(ctx, a, dev, 10000)
		must(rt.T, err)
		served.Receipts = append(served.Receipts, rs...)
	}
	wantData(rt.T, what, served, d)
}

// wantAccounts fails unless AccountsByCountry(country) lists want, in any
// order.
func (rt regionT) wantAccounts(country string, want ...candor.AccountID) {
	rt.Helper()
	got, err := rt.r.AccountsByCountry(rt.ctx, country)
	must(rt.T, err)
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		rt.Fatalf("AccountsByCountry(%s) = %v, want %v", country, got, want)
	}
}

// testMigrateAccount copies an account from one region store to another:
// the export holds exactly what the source serves, the target then serves
// exactly that and exports the same, and later writes in the target carry
// on the source's feed and ledger Seqs. Neither side logs the copy as an
// access.
func testMigrateAccount(t *testing.T, open func(t *testing.T) store.Region) {
	src, dst := with(t, open(t)), with(t, open(t))
	dst.haveKEK(2) // the rich account's data keys are wrapped by version 2
	a := src.richAccount()
	other, _ := src.fullAccount()
	bystander, _ := dst.fullAccount()

	srcAudit, dstAudit := auditSize(t, src.r), auditSize(t, dst.r)
	data, err := src.r.ExportAccount(t.Context(), a)
	must(t, err)
	wantAuditSize(t, "source log after ExportAccount", src.r, srcAudit)

	if data.Account.ID != a || data.Account.Country != "IN" {
		t.Fatalf("exported account %s of %q, want %s of IN", data.Account.ID, data.Account.Country, a)
	}
	var maxSeq int64
	for _, r := range data.Records {
		maxSeq = max(maxSeq, r.Seq)
	}
	if len(data.Devices) != 2 || len(data.Consent) != 4 || len(data.DataKeys) != 2 || len(data.Records) != 5 ||
		len(data.Uploads) != 2 || len(data.MessagingKeys) != 2 || len(data.Envelopes) != 5 || len(data.Receipts) != 2 {
		t.Fatalf("export holds %d devices, %d events, %d keys, %d records, %d uploads, %d messaging keys, %d envelopes, %d receipts; want 2, 4, 2, 5, 2, 2, 5, 2",
			len(data.Devices), len(data.Consent), len(data.DataKeys), len(data.Records), len(data.Uploads),
			len(data.MessagingKeys), len(data.Envelopes), len(data.Receipts))
	}
	if data.ConsentSeq != 4 || data.FeedSeq != 8 || maxSeq != 7 {
		t.Fatalf("export counters: consent %d, feed %d (last record Seq %d); want 4, 8 (7)", data.ConsentSeq, data.FeedSeq, maxSeq)
	}
	src.wantServes("source", data)

	must(t, dst.r.ImportAccount(t.Context(), data))
	wantAuditSize(t, "target log after ImportAccount", dst.r, dstAudit)
	dst.wantServes("target after import", data)
	wantData(t, "export of the target", dst.export(a), data)
	dst.wantIntact(bystander)
	dst.wantAccounts("IN", a, bystander)
	src.wantAccounts("IN", a, other)

	// The target carries on the source's counters and versions.
	var live store.Record
	for _, r := range data.Records {
		if r.Category == candor.Contacts && !r.Deleted && r.Version == 2 {
			live = r
		}
	}
	var epoch int64
	for _, k := range data.DataKeys {
		if k.Category == candor.Contacts {
			epoch = k.Epoch
		}
	}
	res := dst.apply(a, candor.Contacts, epoch, update(live.ID, live.Version, randBytes(10)), create(newID("rec"), randBytes(10)))
	if res[0].Seq != data.FeedSeq+1 || res[1].Seq != data.FeedSeq+2 || res[0].Version != 3 {
		t.Fatalf("after import, changes got Seqs %d, %d and version %d; want %d, %d and 3",
			res[0].Seq, res[1].Seq, res[0].Version, data.FeedSeq+1, data.FeedSeq+2)
	}
	if e := dst.consent(a, candor.SMS, true); e.Seq != data.ConsentSeq+1 {
		t.Fatalf("after import, a consent event got Seq %d, want %d", e.Seq, data.ConsentSeq+1)
	}

	// The source still holds its copy until it is deleted.
	src.wantServes("source after the copy", data)
	must(t, src.r.DeleteAccount(t.Context(), logged(), a))
	_, err = src.r.ExportAccount(t.Context(), a)
	wantKind(t, err, candor.NotFound)
	src.wantAccounts("IN", other)
}

// testImportUnderRetiredKEK imports an account whose data keys were
// re-wrapped under a KEK version the target does not store (retired by an
// instance whose rotation the migrating one had not seen): refused with
// ErrNoKEK, and nothing is written.
func testImportUnderRetiredKEK(t *testing.T, open func(t *testing.T) store.Region) {
	src, dst := with(t, open(t)), with(t, open(t))
	a := src.richAccount()
	data, err := src.r.ExportAccount(t.Context(), a)
	must(t, err)
	dst.haveKEK(1)
	dst.haveKEK(3)
	err = dst.r.ImportAccount(t.Context(), data) // its keys are wrapped by version 2
	wantKind(t, err, candor.Conflict)
	if !errors.Is(err, store.ErrNoKEK) {
		t.Fatalf("ImportAccount under a KEK version not stored: %v, want ErrNoKEK", err)
	}
	_, err = dst.r.ExportAccount(t.Context(), a)
	wantKind(t, err, candor.NotFound)
	if n := dst.counts(); len(n) != 0 {
		t.Fatalf("data keys after a refused import: %v", n)
	}
	dst.haveKEK(2)
	must(t, dst.r.ImportAccount(t.Context(), data))
	dst.wantServes("target", data)
}

// testImportTwice imports the same data twice: one copy remains.
func testImportTwice(t *testing.T, open func(t *testing.T) store.Region) {
	src, dst := with(t, open(t)), with(t, open(t))
	dst.haveKEK(2) // the rich account's data keys are wrapped by version 2
	a := src.richAccount()
	bystander, _ := dst.fullAccount()
	data := src.export(a)
	for range 2 {
		must(t, dst.r.ImportAccount(t.Context(), data))
	}
	dst.wantServes("target after two imports", data)
	wantData(t, "export after two imports", dst.export(a), data)
	dst.wantIntact(bystander)
	dst.wantAccounts("IN", a, bystander)
}

// testImportOverPartial imports over what an earlier, interrupted copy and
// writes since left in the target: rows the data lacks go, rows it changes
// are replaced, and the counters are the data's.
func testImportOverPartial(t *testing.T, open func(t *testing.T) store.Region) {
	src, dst := with(t, open(t)), with(t, open(t))
	dst.haveKEK(2) // the rich account's data keys are wrapped by version 2
	a := src.richAccount()
	data := src.export(a)
	sorted := normalData(data) // lists by Seq

	// An older copy: fewer rows, stale ones, rows since deleted, other
	// account settings and lower counters.
	partial := data
	partial.Account.Country, partial.Account.AuthHash, partial.Account.KDF.Time = "SG", "$argon2id$old", 1
	partial.Devices = sorted.Devices[:1]
	partial.Consent = sorted.Consent[:2]
	partial.ConsentSeq = sorted.Consent[1].Seq
	partial.DataKeys = slices.Clone(sorted.DataKeys[:1])
	partial.DataKeys[0].Key.Wrapped = randBytes(60)
	partial.Records = slices.Clone(sorted.Records[:2])
	partial.Records[0].Ciphertext, partial.Records[0].Version = randBytes(80), 1
	partial.FeedSeq = partial.Records[1].Seq + 1
	partial.Records = append(partial.Records, store.Record{Account: a, Category: candor.Notes, ID: newID("rec"),
		Version: 1, Seq: partial.FeedSeq, Ciphertext: randBytes(30), Modified: testTime})
	partial.Uploads = append(slices.Clone(sorted.Uploads[1:]), store.Upload{ID: newID("upl"), Account: a,
		Category: candor.Notes, Size: 7, Hash: randBytes(32), Created: testTime, Expires: testTime})
	partial.MessagingKeys = nil
	partial.Envelopes = append(slices.Clone(sorted.Envelopes[:1]), envelope(newID("msg"), a, sorted.Devices[0].ID, testTime))
	partial.Receipts = nil
	must(t, dst.r.ImportAccount(t.Context(), partial))
	wantData(t, "export of the partial copy", dst.export(a), partial)
	dst.wantAccounts("SG", a)

	// Writes to the partial copy, as if it had been served.
	e := dst.consent(a, candor.Messaging, true)
	if e.Seq != partial.ConsentSeq+1 {
		t.Fatalf("consent Seq on the partial copy = %d, want %d", e.Seq, partial.ConsentSeq+1)
	}

	must(t, dst.r.ImportAccount(t.Context(), data))
	dst.wantServes("target after the full import", data)
	wantData(t, "export after the full import", dst.export(a), data)
	dst.wantAccounts("SG")
	dst.wantAccounts("IN", a)

	// A copy that diverged from nothing: the account made in the target.
	b := dst.newAccount()
	epoch := dst.enable(b, candor.Contacts)
	dst.apply(b, candor.Contacts, epoch, create(newID("rec"), randBytes(20)))
	fromSrc := data
	fromSrc.Account.ID = b
	fromSrc.Devices = nil
	fromSrc.Consent = nil
	fromSrc.DataKeys = nil
	fromSrc.Records = nil
	fromSrc.Uploads = nil
	fromSrc.MessagingKeys = nil
	fromSrc.Envelopes = nil
	fromSrc.Receipts = nil
	must(t, dst.r.ImportAccount(t.Context(), fromSrc))
	wantData(t, "export after importing an empty account", dst.export(b), fromSrc)
	dst.wantServes("empty import", fromSrc)
}

// testExportNotFound: an account not in the region cannot be exported.
func testExportNotFound(t *testing.T, r store.Region) {
	rt := with(t, r)
	_, err := r.ExportAccount(rt.ctx, candor.AccountID(newID("acc")))
	wantKind(t, err, candor.NotFound)
	a, _ := rt.fullAccount()
	must(t, r.DeleteAccount(rt.ctx, logged(), a))
	_, err = r.ExportAccount(rt.ctx, a)
	wantKind(t, err, candor.NotFound)
}

func testAccountsByCountry(t *testing.T, r store.Region) {
	rt := with(t, r)
	rt.wantAccounts("IN")
	in1, in2 := rt.newAccount(), rt.newAccount()
	sg := candor.AccountID(newID("acc"))
	must(t, r.CreateAccount(rt.ctx, store.Account{ID: sg, Country: "SG"}))
	rt.wantAccounts("IN", in1, in2)
	rt.wantAccounts("SG", sg)
	rt.wantAccounts("FR")
	must(t, r.DeleteAccount(rt.ctx, logged(), in1))
	rt.wantAccounts("IN", in2)
}

// testMoves marks an entry moving, clears the mark, and switches its
// region only from the region it is in.
func testMoves(t *testing.T, d store.Directory) {
	ctx := t.Context()
	e := store.Entry{Account: candor.AccountID(newID("acc")), Handle: randBytes(32), Region: "in", Created: testTime}
	must(t, d.CreateEntry(ctx, e))
	num := store.Number{Token: token(), Account: e.Account, Region: e.Region, Created: testTime}
	must(t, d.RegisterNumber(ctx, num))
	wantMoving := func(what string, want store.Entry) {
		t.Helper()
		got, err := d.Entry(ctx, want.Account)
		must(t, err)
		wantEntry(t, what+": Entry", got, want)
		got, err = d.EntryByHandle(ctx, want.Handle)
		must(t, err)
		wantEntry(t, what+": EntryByHandle", got, want)
	}
	wantMoving("new entry", e)

	must(t, d.SetMoving(ctx, e.Account, "sg"))
	e.Moving = "sg"
	wantMoving("moving", e)
	moving, err := d.MovingAccounts(ctx)
	must(t, err)
	if !slices.ContainsFunc(moving, func(m store.Entry) bool { return m.Account == e.Account && m.Moving == "sg" && m.Region == "in" }) {
		t.Fatalf("MovingAccounts does not list the account moving: %+v", moving)
	}
	must(t, d.SetMoving(ctx, e.Account, "sg")) // again: no change, no error
	wantMoving("moving again", e)
	must(t, d.SetMoving(ctx, e.Account, ""))
	e.Moving = ""
	wantMoving("mark cleared", e)
	moving, err = d.MovingAccounts(ctx)
	must(t, err)
	for _, m := range moving {
		if m.Account == e.Account || m.Moving == "" {
			t.Fatalf("MovingAccounts lists an entry not moving: %+v", m)
		}
	}
	wantKind(t, d.SetMoving(ctx, candor.AccountID(newID("acc")), "sg"), candor.NotFound)

	must(t, d.SetMoving(ctx, e.Account, "sg"))
	e.Moving = "sg"
	wantKind(t, d.SwitchRegion(ctx, e.Account, "eu", "sg"), candor.Conflict)
	wantMoving("after a switch from the wrong region", e)
	wantKind(t, d.SwitchRegion(ctx, candor.AccountID(newID("acc")), "in", "sg"), candor.NotFound)

	must(t, d.SwitchRegion(ctx, e.Account, "in", "sg"))
	e.Region, e.Moving = "sg", ""
	wantMoving("switched", e)
	wantKind(t, d.SwitchRegion(ctx, e.Account, "in", "sg"), candor.Conflict) // switched already
	wantMoving("after a second switch", e)
	got, err := d.NumberByToken(ctx, num.Token)
	must(t, err)
	num.Region = "sg"
	wantNumber(t, "number after the switch", got, num)

	// Of concurrent switches from one region, exactly one wins.
	must(t, d.SetMoving(ctx, e.Account, "in"))
	targets := []candor.RegionID{"in", "eu", "us", "uk", "jp", "br"}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, to := range targets {
		wg.Go(func() { errs[i] = d.SwitchRegion(ctx, e.Account, "sg", to) })
	}
	wg.Wait()
	var won []candor.RegionID
	for i, err := range errs {
		switch {
		case err == nil:
			won = append(won, targets[i])
		case !candor.Is(err, candor.Conflict):
			t.Fatalf("concurrent SwitchRegion to %s: %v, want nil or Conflict", targets[i], err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d concurrent switches from one region succeeded (%v), want 1", len(won), won)
	}
	e.Region, e.Moving = won[0], ""
	wantMoving(fmt.Sprintf("after the concurrent switch to %s", won[0]), e)

	// DeleteEntry still removes a moving entry.
	must(t, d.SetMoving(ctx, e.Account, "sg"))
	must(t, d.DeleteEntry(ctx, logged(), e.Account))
	_, err = d.Entry(ctx, e.Account)
	wantKind(t, err, candor.NotFound)
}

// testExportConsistent exports an account again and again while changes
// are applied to it: each export must be one consistent read, whose
// records are exactly those its feed counter accounts for.
func testExportConsistent(t *testing.T, r store.Region) {
	rt := with(t, r)
	a := rt.newAccount()
	epoch := rt.enable(a, candor.Notes)
	const batches, size = 40, 10
	done := make(chan error, 1)
	go func() {
		for range batches {
			changes := make([]store.Change, size)
			for i := range changes {
				changes[i] = create(newID("rec"), randBytes(20))
			}
			if _, err := r.ApplyChanges(rt.ctx, logged(), a, candor.Notes, epoch, changes); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var writerErr error
	writing := true
	for exports := 0; writing; exports++ {
		select {
		case writerErr = <-done:
			writing = false // one more export, of the final state
		default:
		}
		d := rt.export(a)
		var maxSeq int64
		for _, rec := range d.Records {
			maxSeq = max(maxSeq, rec.Seq)
		}
		if int64(len(d.Records)) != d.FeedSeq || maxSeq != d.FeedSeq || len(d.Records)%size != 0 {
			t.Fatalf("export %d: %d records, last Seq %d, feed counter %d: not one consistent read",
				exports, len(d.Records), maxSeq, d.FeedSeq)
		}
	}
	must(t, writerErr)
	if d := rt.export(a); d.FeedSeq != batches*size {
		t.Fatalf("final export: feed counter %d, want %d", d.FeedSeq, batches*size)
	}
}
