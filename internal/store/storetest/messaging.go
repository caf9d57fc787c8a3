package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// The conformance tests of store.Numbers (directory) and store.Messages
// (region). Beyond the contract they check what the messaging service
// relies on: a missing account is NotFound for Enqueue and
// PutMessagingKeys, Enqueue is all or none, an envelope acked by several
// callers at once is returned to one of them, and DeleteAccount and
// DeleteEntry take the account's messaging rows and numbers with them.

// token returns a random 64-byte discovery token starting with prefix.
func token(prefix ...byte) []byte {
	t := randBytes(64)
	copy(t, prefix)
	return t
}

func wantNumber(t *testing.T, what string, got, want store.Number) {
	t.Helper()
	if got.Account != want.Account || got.Region != want.Region {
		t.Fatalf("%s = %s in %s, want %s in %s", what, got.Account, got.Region, want.Account, want.Region)
	}
	wantBytes(t, what+" token", got.Token, want.Token)
	wantTime(t, what+" Created", got.Created, want.Created)
}

// wantTokens fails unless got holds exactly the tokens of want, in any
// order.
func wantTokens(t *testing.T, what string, got [][]byte, want ...[]byte) {
	t.Helper()
	sorted := func(ts [][]byte) [][]byte {
		ts = slices.Clone(ts)
		slices.SortFunc(ts, bytes.Compare)
		return ts
	}
	g, w := sorted(got), sorted(want)
	if !slices.EqualFunc(g, w, bytes.Equal) {
		t.Fatalf("%s = %d tokens %x, want %d tokens %x", what, len(g), g, len(w), w)
	}
}

func testNumbers(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a, b := candor.AccountID(newID("acc")), candor.AccountID(newID("acc"))
	n := store.Number{Token: token(0x00, 0x01), Account: a, Region: "in", Created: testTime}
	must(t, d.RegisterNumber(ctx, n))
	got, err := d.NumberByToken(ctx, n.Token)
	must(t, err)
	wantNumber(t, "NumberByToken", got, n)
	_, err = d.NumberByToken(ctx, token(0x00, 0x01))
	wantKind(t, err, candor.NotFound)

	// Registering again moves the number to whoever verified it last.
	moved := store.Number{Token: n.Token, Account: b, Region: "sg", Created: testTime.Add(time.Hour)}
	must(t, d.RegisterNumber(ctx, moved))
	got, err = d.NumberByToken(ctx, n.Token)
	must(t, err)
	wantNumber(t, "NumberByToken after re-registering", got, moved)

	// A zero Created is the time of the call.
	fresh := store.Number{Token: token(0x00, 0x01), Account: a, Region: "in"}
	must(t, d.RegisterNumber(ctx, fresh))
	got, err = d.NumberByToken(ctx, fresh.Token)
	must(t, err)
	if !recent(got.Created) {
		t.Fatalf("Created of a number registered without one = %v", got.Created)
	}

	// Buckets: the prefix is the first two bytes, compared as bytes (0x00
	// and 0xff, and a pair that is one character in UTF-8), and the
	// neighbouring buckets stay out.
	ffff := token(0xff, 0xff)
	utf8 := token(0xc3, 0xa9)
	next := token(0x00, 0x02)
	below := token(0x00, 0x00, 0xff)
	for _, tok := range [][]byte{ffff, utf8, next, below} {
		must(t, d.RegisterNumber(ctx, store.Number{Token: tok, Account: a, Region: "in"}))
	}
	for _, tc := range []struct {
		name     string
		prefixes [][]byte
		want     [][]byte
	}{
		{"one bucket", [][]byte{{0x00, 0x01}}, [][]byte{n.Token, fresh.Token}},
		{"three buckets", [][]byte{{0x00, 0x01}, {0xff, 0xff}, {0xc3, 0xa9}}, [][]byte{n.Token, fresh.Token, ffff, utf8}},
		{"neighbours", [][]byte{{0x00, 0x02}, {0x00, 0x00}}, [][]byte{next, below}},
		{"empty bucket", [][]byte{{0x12, 0x34}}, nil},
		{"no buckets", nil, nil},
	} {
		got, err := d.TokensWithPrefixes(ctx, tc.prefixes)
		must(t, err)
		wantTokens(t, "TokensWithPrefixes "+tc.name, got, tc.want...)
	}
	many := make([][]byte, 0, 1200)
	for i := range 1200 {
		many = append(many, []byte{byte(i >> 8), byte(i)})
	}
	got2, err := d.TokensWithPrefixes(ctx, many)
	must(t, err)
	wantTokens(t, "TokensWithPrefixes of 1200 buckets", got2, n.Token, fresh.Token, next, below)

	// UnregisterAccount removes the account's numbers only.
	must(t, d.UnregisterAccount(ctx, a))
	for _, tok := range [][]byte{fresh.Token, ffff, utf8, next, below} {
		_, err := d.NumberByToken(ctx, tok)
		wantKind(t, err, candor.NotFound)
	}
	got, err = d.NumberByToken(ctx, n.Token)
	must(t, err)
	wantNumber(t, "other account's number after UnregisterAccount", got, moved)
	must(t, d.UnregisterAccount(ctx, a)) // none: not an error
	all, err := d.TokensWithPrefixes(ctx, [][]byte{{0x00, 0x01}, {0xff, 0xff}})
	must(t, err)
	wantTokens(t, "TokensWithPrefixes after UnregisterAccount", all, n.Token)

	// DeleteEntry removes the account's numbers too.
	c := candor.AccountID(newID("acc"))
	must(t, d.CreateEntry(ctx, store.Entry{Account: c, Handle: randBytes(32), Region: "in"}))
	mine := store.Number{Token: token(0x00, 0x01), Account: c, Region: "in"}
	must(t, d.RegisterNumber(ctx, mine))
	must(t, d.DeleteEntry(ctx, logged(), c))
	_, err = d.NumberByToken(ctx, mine.Token)
	wantKind(t, err, candor.NotFound)
	got, err = d.NumberByToken(ctx, n.Token)
	must(t, err)
	wantNumber(t, "other account's number after DeleteEntry", got, moved)
}

// messagingT adds messaging helpers to regionT.
type messagingT struct{ regionT }

func withMessaging(t *testing.T, r store.Region) messagingT { return messagingT{with(t, r)} }

// envelope returns an envelope of message id for (a, d), created at
// created and expiring an hour after now.
func envelope(id string, a candor.AccountID, d candor.DeviceID, created time.Time) store.Envelope {
	return store.Envelope{ID: id, Account: a, Device: d, From: candor.AccountID(newID("acc")),
		Data: randBytes(200), Created: created, Expires: time.Now().Add(time.Hour)}
}

func (mt messagingT) enqueue(envs ...store.Envelope) {
	mt.Helper()
	must(mt.T, mt.r.Enqueue(mt.ctx, envs))
}

func (mt messagingT) pending(a candor.AccountID, d candor.DeviceID) []store.Envelope {
	mt.Helper()
	envs, err := mt.r.Pending(mt.ctx, a, d, time.Now(), 10000)
	must(mt.T, err)
	return envs
}

func (mt messagingT) receipts(a candor.AccountID, d candor.DeviceID) []store.Receipt {
	mt.Helper()
	rs, err := mt.r.Receipts(mt.ctx, a, d, 10000)
	must(mt.T, err)
	return rs
}

func (mt messagingT) keys(a candor.AccountID) []store.MessagingKeys {
	mt.Helper()
	ks, err := mt.r.MessagingKeys(mt.ctx, a)
	must(mt.T, err)
	return ks
}

// wantEnvelopes fails unless got is want, in order and field by field.
func wantEnvelopes(t *testing.T, what string, got []store.Envelope, want ...store.Envelope) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %d envelopes %v, want %d %v", what, len(got), envelopeIDs(got), len(want), envelopeIDs(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != w.ID || g.Account != w.Account || g.Device != w.Device || g.From != w.From {
			t.Fatalf("%s[%d] = %s for %s/%s from %s, want %s for %s/%s from %s", what, i,
				g.ID, g.Account, g.Device, g.From, w.ID, w.Account, w.Device, w.From)
		}
		wantBytes(t, fmt.Sprintf("%s[%d] Data", what, i), g.Data, w.Data)
		wantTime(t, fmt.Sprintf("%s[%d] Created", what, i), g.Created, w.Created)
		wantTime(t, fmt.Sprintf("%s[%d] Expires", what, i), g.Expires, w.Expires)
	}
}

func envelopeIDs(envs []store.Envelope) []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.ID
	}
	return out
}

// byCreated sorts envelopes oldest first (and by ID), as Pending returns
// them.
func byCreated(envs []store.Envelope) []store.Envelope {
	envs = slices.Clone(envs)
	slices.SortFunc(envs, func(a, b store.Envelope) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return envs
}

func testMessagingKeys(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, b := mt.newAccount(), mt.newAccount()
	d1, d2 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	k1 := store.MessagingKeys{Account: a, Device: d1, HPKE: randBytes(32), Sign: randBytes(32), Created: testTime}
	k2 := store.MessagingKeys{Account: a, Device: d2, HPKE: randBytes(32), Sign: randBytes(32)}
	must(t, r.PutMessagingKeys(mt.ctx, k1))
	must(t, r.PutMessagingKeys(mt.ctx, k2))

	wantKeys := func(what string, got []store.MessagingKeys, want ...store.MessagingKeys) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d keys, want %d", what, len(got), len(want))
		}
		for _, w := range want {
			i := slices.IndexFunc(got, func(g store.MessagingKeys) bool { return g.Device == w.Device })
			if i < 0 {
				t.Fatalf("%s: no keys of device %s", what, w.Device)
			}
			g := got[i]
			if g.Account != w.Account {
				t.Fatalf("%s: keys of %s belong to %s, want %s", what, w.Device, g.Account, w.Account)
			}
			wantBytes(t, what+" HPKE", g.HPKE, w.HPKE)
			wantBytes(t, what+" Sign", g.Sign, w.Sign)
			if w.Created.IsZero() {
				if !recent(g.Created) {
					t.Fatalf("%s: Created of keys put without one = %v", what, g.Created)
				}
			} else {
				wantTime(t, what+" Created", g.Created, w.Created)
			}
		}
	}
	wantKeys("MessagingKeys", mt.keys(a), k1, k2)

	// Putting a device's keys again replaces them.
	k1b := store.MessagingKeys{Account: a, Device: d1, HPKE: randBytes(32), Sign: randBytes(32), Created: testTime.Add(time.Hour)}
	must(t, r.PutMessagingKeys(mt.ctx, k1b))
	wantKeys("MessagingKeys after replacing", mt.keys(a), k1b, k2)

	if ks := mt.keys(b); len(ks) != 0 {
		t.Fatalf("MessagingKeys of an account without any = %d keys", len(ks))
	}
	if ks := mt.keys(candor.AccountID(newID("acc"))); len(ks) != 0 {
		t.Fatalf("MessagingKeys of an unknown account = %d keys", len(ks))
	}
	ghost := k2
	ghost.Account = candor.AccountID(newID("acc"))
	wantKind(t, r.PutMessagingKeys(mt.ctx, ghost), candor.NotFound)
}

func testEnvelopes(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, b := mt.newAccount(), mt.newAccount()
	d1, d2, d3 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	now := time.Now().UTC()
	m1, m2, m3, m4 := newID("msg"), newID("msg"), newID("msg"), newID("msg")
	e1 := envelope(m1, a, d1, now.Add(-3*time.Minute))
	e2 := envelope(m2, a, d1, now.Add(-2*time.Minute))
	e3 := envelope(m3, a, d1, now.Add(-time.Minute))
	expired := envelope(m4, a, d1, now.Add(-4*time.Minute))
	expired.Expires = now.Add(-time.Second)
	sibling := envelope(m1, a, d2, now.Add(-3*time.Minute)) // the same message for another device
	theirs := envelope(m1, b, d3, now.Add(-3*time.Minute))
	mt.enqueue(e3, e1, sibling)
	mt.enqueue(e2, expired, theirs)

	// An (ID, Device) pair is queued once; a batch holding one stores
	// nothing.
	wantKind(t, r.Enqueue(mt.ctx, []store.Envelope{e1}), candor.Conflict)
	m5 := envelope(newID("msg"), a, d1, now)
	wantKind(t, r.Enqueue(mt.ctx, []store.Envelope{m5, e2}), candor.Conflict)
	twice := envelope(newID("msg"), a, d2, now)
	wantKind(t, r.Enqueue(mt.ctx, []store.Envelope{twice, twice}), candor.Conflict)
	// A missing account is NotFound, and nothing of the batch is stored.
	ghost := envelope(newID("msg"), candor.AccountID(newID("acc")), d1, now)
	wantKind(t, r.Enqueue(mt.ctx, []store.Envelope{m5, ghost}), candor.NotFound)
	must(t, r.Enqueue(mt.ctx, nil))

	// Pending: oldest first, not expired, this device's only.
	wantEnvelopes(t, "Pending", mt.pending(a, d1), e1, e2, e3)
	limited, err := r.Pending(mt.ctx, a, d1, now, 2)
	must(t, err)
	wantEnvelopes(t, "Pending with limit 2", limited, e1, e2)
	early, err := r.Pending(mt.ctx, a, d1, now.Add(-time.Hour), 10)
	must(t, err)
	wantEnvelopes(t, "Pending before the expiry", early, expired, e1, e2, e3)
	late, err := r.Pending(mt.ctx, a, d1, now.Add(2*time.Hour), 10)
	must(t, err)
	wantEnvelopes(t, "Pending after every expiry", late)
	wantEnvelopes(t, "Pending of the other device", mt.pending(a, d2), sibling)
	wantEnvelopes(t, "Pending of the other account", mt.pending(b, d3), theirs)
	wantEnvelopes(t, "Pending of a device under the wrong account", mt.pending(b, d1))

	// Ack returns what it deleted and skips unknown ids, other devices'
	// and other accounts' envelopes.
	acked, err := r.Ack(mt.ctx, a, d1, []string{m2, newID("msg"), m1})
	must(t, err)
	wantEnvelopes(t, "Ack", byCreated(acked), e1, e2)
	wantEnvelopes(t, "Pending after Ack", mt.pending(a, d1), e3)
	acked, err = r.Ack(mt.ctx, a, d1, []string{m1})
	must(t, err)
	wantEnvelopes(t, "Ack again", acked)
	acked, err = r.Ack(mt.ctx, b, d1, []string{m3})
	must(t, err)
	wantEnvelopes(t, "Ack under the wrong account", acked)
	wantEnvelopes(t, "Pending after Ack under the wrong account", mt.pending(a, d1), e3)
	wantEnvelopes(t, "Pending of the other device after Ack", mt.pending(a, d2), sibling)
	wantEnvelopes(t, "Pending of the other account after Ack", mt.pending(b, d3), theirs)
	acked, err = r.Ack(mt.ctx, a, d1, nil)
	must(t, err)
	wantEnvelopes(t, "Ack of nothing", acked)

	// An acked message may be queued again.
	again := envelope(m1, a, d1, now)
	mt.enqueue(again)
	wantEnvelopes(t, "Pending after queueing an acked id again", mt.pending(a, d1), e3, again)

	// An expired envelope not yet purged can still be acked.
	acked, err = r.Ack(mt.ctx, a, d1, []string{m4})
	must(t, err)
	wantEnvelopes(t, "Ack of an expired envelope", acked, expired)

	// A zero Created is the time of the call.
	stamped := envelope(newID("msg"), b, d3, time.Time{})
	mt.enqueue(stamped)
	got := mt.pending(b, d3)
	if len(got) != 2 || got[1].ID != stamped.ID || !recent(got[1].Created) {
		t.Fatalf("Pending after queueing without Created = %+v", got)
	}
}

// testLargeBatches queues, lists, acks and expires more envelopes at once
// than one statement may carry in either dialect's implementation.
func testLargeBatches(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a := mt.newAccount()
	d := candor.DeviceID(newID("dev"))
	start := time.Now().Add(-time.Hour).UTC()
	const n = 1200
	envs := make([]store.Envelope, n)
	ids := make([]string, 0, n+1)
	for i := range envs {
		envs[i] = envelope(fmt.Sprintf("msg_%05d", i), a, d, start.Add(time.Duration(i)*time.Millisecond))
		ids = append(ids, envs[i].ID)
	}
	mt.enqueue(envs...)
	wantEnvelopes(t, "Pending", mt.pending(a, d), envs...)
	// One duplicate at the end of a large batch stores nothing.
	dup := append([]store.Envelope{}, envelope(newID("msg"), a, d, start))
	for i := range n {
		dup = append(dup, envelope(fmt.Sprintf("new_%05d", i), a, d, start))
	}
	dup = append(dup, envs[n-1])
	wantKind(t, r.Enqueue(mt.ctx, dup), candor.Conflict)
	if got := len(mt.pending(a, d)); got != n {
		t.Fatalf("after a failed batch: %d pending, want %d", got, n)
	}

	acked, err := r.Ack(mt.ctx, a, d, append(ids, newID("msg")))
	must(t, err)
	wantEnvelopes(t, "Ack", byCreated(acked), envs...)
	if got := len(mt.pending(a, d)); got != 0 {
		t.Fatalf("after Ack: %d pending", got)
	}

	for i := range envs {
		envs[i].Expires = start
	}
	mt.enqueue(envs...)
	expired, err := r.ExpireEnvelopes(mt.ctx, time.Now())
	must(t, err)
	if expired != n {
		t.Fatalf("ExpireEnvelopes = %d, want %d", expired, n)
	}
}

// testConcurrentAck has callers ack the same envelopes at once: each is
// returned to exactly one of them.
func testConcurrentAck(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a := mt.newAccount()
	d := candor.DeviceID(newID("dev"))
	const n, callers = 40, 8
	ids := make([]string, n)
	for i := range ids {
		e := envelope(newID("msg"), a, d, time.Time{})
		ids[i] = e.ID
		mt.enqueue(e)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for c := range callers {
		wg.Go(func() {
			// Each caller acks all ids, one or several at a time.
			for i := 0; i < n; i += c%3 + 1 {
				acked, err := r.Ack(mt.ctx, a, d, ids[i:min(i+c%3+1, n)])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, e := range acked {
					seen[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("envelope %s returned by %d Acks, want 1", id, seen[id])
		}
	}
}

func testReceipts(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, b := mt.newAccount(), mt.newAccount()
	d1, d2, d3 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	to1, to2 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	m1, m2 := newID("msg"), newID("msg")
	r1 := store.Receipt{ID: m1, Account: a, Device: d1, ToDevice: to1, Time: testTime}
	r2 := store.Receipt{ID: m1, Account: a, Device: d1, ToDevice: to2, Time: testTime.Add(time.Second)}
	r3 := store.Receipt{ID: m2, Account: a, Device: d1, ToDevice: to1, Time: testTime.Add(2 * time.Second)}
	sibling := store.Receipt{ID: m1, Account: a, Device: d2, ToDevice: to1, Time: testTime}
	theirs := store.Receipt{ID: m1, Account: b, Device: d3, ToDevice: to1, Time: testTime}
	must(t, r.PutReceipts(mt.ctx, []store.Receipt{r3, sibling, r1}))
	must(t, r.PutReceipts(mt.ctx, []store.Receipt{theirs, r2}))
	must(t, r.PutReceipts(mt.ctx, nil))

	wantReceipts := func(what string, got []store.Receipt, want ...store.Receipt) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s = %d receipts %+v, want %d", what, len(got), got, len(want))
		}
		for i, g := range got {
			w := want[i]
			if g.ID != w.ID || g.Account != w.Account || g.Device != w.Device || g.ToDevice != w.ToDevice {
				t.Fatalf("%s[%d] = %+v, want %+v", what, i, g, w)
			}
			wantTime(t, fmt.Sprintf("%s[%d] Time", what, i), g.Time, w.Time)
		}
	}
	wantReceipts("Receipts", mt.receipts(a, d1), r1, r2, r3)
	limited, err := r.Receipts(mt.ctx, a, d1, 2)
	must(t, err)
	wantReceipts("Receipts with limit 2", limited, r1, r2)
	wantReceipts("Receipts of the other device", mt.receipts(a, d2), sibling)
	wantReceipts("Receipts of the other account", mt.receipts(b, d3), theirs)
	wantReceipts("Receipts of a device under the wrong account", mt.receipts(b, d1))

	// AckReceipts deletes a message's receipts from every device it was
	// delivered to, for this device only.
	must(t, r.AckReceipts(mt.ctx, a, d1, []string{m1, newID("msg")}))
	wantReceipts("Receipts after AckReceipts", mt.receipts(a, d1), r3)
	must(t, r.AckReceipts(mt.ctx, b, d1, []string{m2}))
	wantReceipts("Receipts after AckReceipts under the wrong account", mt.receipts(a, d1), r3)
	wantReceipts("Receipts of the other device after AckReceipts", mt.receipts(a, d2), sibling)
	wantReceipts("Receipts of the other account after AckReceipts", mt.receipts(b, d3), theirs)
	must(t, r.AckReceipts(mt.ctx, a, d1, nil))
}

func testExpireEnvelopes(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, b := mt.newAccount(), mt.newAccount()
	d1, d2 := candor.DeviceID(newID("dev")), candor.DeviceID(newID("dev"))
	now := time.Now().UTC()
	var live, dead []store.Envelope
	for i, exp := range []time.Duration{-time.Hour, -time.Minute, -time.Millisecond, 0, time.Minute, time.Hour} {
		e := envelope(newID("msg"), a, d1, now.Add(-2*time.Hour+time.Duration(i)*time.Second))
		if i%2 == 1 {
			e.Account, e.Device = b, d2
		}
		e.Expires = now.Add(exp)
		mt.enqueue(e)
		if exp < 0 {
			dead = append(dead, e)
		} else {
			live = append(live, e)
		}
	}
	n, err := r.ExpireEnvelopes(mt.ctx, now)
	must(t, err)
	if n != len(dead) {
		t.Fatalf("ExpireEnvelopes = %d, want %d", n, len(dead))
	}
	n, err = r.ExpireEnvelopes(mt.ctx, now)
	must(t, err)
	if n != 0 {
		t.Fatalf("ExpireEnvelopes again = %d, want 0", n)
	}
	// The expired envelopes are gone, not just hidden.
	var left []store.Envelope
	for _, dev := range []struct {
		a candor.AccountID
		d candor.DeviceID
	}{{a, d1}, {b, d2}} {
		envs, err := r.Pending(mt.ctx, dev.a, dev.d, now.Add(-3*time.Hour), 10)
		must(t, err)
		left = append(left, envs...)
	}
	wantEnvelopes(t, "envelopes left", byCreated(left), live...)
}

// messagingAccount gives a new account keys, envelopes and receipts, and
// returns it with its device.
func (mt messagingT) messagingAccount() (candor.AccountID, candor.DeviceID) {
	mt.Helper()
	a := mt.newAccount()
	d := candor.DeviceID(newID("dev"))
	must(mt.T, mt.r.PutMessagingKeys(mt.ctx, store.MessagingKeys{Account: a, Device: d, HPKE: randBytes(32), Sign: randBytes(32)}))
	mt.enqueue(envelope(newID("msg"), a, d, time.Time{}), envelope(newID("msg"), a, d, time.Time{}))
	must(mt.T, mt.r.PutReceipts(mt.ctx, []store.Receipt{{ID: newID("msg"), Account: a, Device: d, ToDevice: candor.DeviceID(newID("dev"))}}))
	return a, d
}

func (mt messagingT) wantMessaging(what string, a candor.AccountID, d candor.DeviceID, keys, envelopes, receipts int) {
	mt.Helper()
	k, e, r := len(mt.keys(a)), len(mt.pending(a, d)), len(mt.receipts(a, d))
	if k != keys || e != envelopes || r != receipts {
		mt.Fatalf("%s: %d keys, %d envelopes, %d receipts; want %d, %d, %d", what, k, e, r, keys, envelopes, receipts)
	}
}

func testDeleteMessaging(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, da := mt.messagingAccount()
	b, db := mt.messagingAccount()
	// Something a sent to b.
	fromA := envelope(newID("msg"), b, db, time.Time{})
	fromA.From = a
	mt.enqueue(fromA)

	must(t, r.DeleteMessaging(mt.ctx, a))
	mt.wantMessaging("after DeleteMessaging", a, da, 0, 0, 0)
	mt.wantMessaging("other account after DeleteMessaging", b, db, 1, 3, 1)
	must(t, r.DeleteMessaging(mt.ctx, a))
	must(t, r.DeleteMessaging(mt.ctx, candor.AccountID(newID("acc"))))
	if _, err := r.Account(mt.ctx, a); err != nil {
		t.Fatalf("DeleteMessaging touched the account: %v", err)
	}
	// Messaging may be turned on again.
	mt.enqueue(envelope(newID("msg"), a, da, time.Time{}))
	mt.wantMessaging("after messaging again", a, da, 0, 1, 0)
}

// testDeleteDeviceMessaging removes one device's keys, queue and receipts,
// and nothing of the account's other devices.
func testDeleteDeviceMessaging(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, gone := mt.messagingAccount()
	kept := candor.DeviceID(newID("dev"))
	must(t, r.PutMessagingKeys(mt.ctx, store.MessagingKeys{Account: a, Device: kept, HPKE: randBytes(32), Sign: randBytes(32)}))
	mt.enqueue(envelope(newID("msg"), a, kept, time.Time{}))
	must(t, r.PutReceipts(mt.ctx, []store.Receipt{{ID: newID("msg"), Account: a, Device: kept, ToDevice: gone}}))

	must(t, r.DeleteDeviceMessaging(mt.ctx, logged(), a, gone))
	if k := mt.keys(a); len(k) != 1 || k[0].Device != kept {
		t.Fatalf("keys after the device went: %+v", k)
	}
	mt.wantMessaging("the revoked device", a, gone, 1, 0, 0) // 1: the other device's keys
	mt.wantMessaging("the other device", a, kept, 1, 1, 1)
	must(t, r.DeleteDeviceMessaging(mt.ctx, logged(), a, gone)) // again: nothing to do
	must(t, r.DeleteDeviceMessaging(mt.ctx, logged(), candor.AccountID(newID("acc")), gone))
}

func testDeleteAccountMessaging(t *testing.T, r store.Region) {
	mt := withMessaging(t, r)
	a, da := mt.messagingAccount()
	b, db := mt.messagingAccount()
	must(t, r.DeleteAccount(mt.ctx, logged(), a))
	mt.wantMessaging("after DeleteAccount", a, da, 0, 0, 0)
	mt.wantMessaging("other account after DeleteAccount", b, db, 1, 2, 1)
	wantKind(t, r.Enqueue(mt.ctx, []store.Envelope{envelope(newID("msg"), a, da, time.Time{})}), candor.NotFound)
	wantKind(t, r.PutMessagingKeys(mt.ctx, store.MessagingKeys{Account: a, Device: da, HPKE: randBytes(32), Sign: randBytes(32)}),
		candor.NotFound)
}
