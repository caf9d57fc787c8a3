package storetest

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Staff passkeys and staff browser sessions (store.StaffPasskeys), how
// approvals were made, the owner's refusal and the list of every request.

func newStaff(t *testing.T, d store.Directory) store.Staff {
	t.Helper()
	st := store.Staff{ID: newID("stf"), Name: "Asha Rao", Roles: []string{"approver"}, TokenHash: randBytes(32), Created: testTime}
	must(t, d.CreateStaff(t.Context(), logged(), st))
	return st
}

func wantPasskey(t *testing.T, what string, got, want store.Passkey) {
	t.Helper()
	if !bytes.Equal(got.ID, want.ID) || got.Staff != want.Staff || !bytes.Equal(got.PublicKey, want.PublicKey) ||
		got.SignCount != want.SignCount || !bytes.Equal(got.AAGUID, want.AAGUID) || got.Flags != want.Flags ||
		!slices.Equal(got.Transports, want.Transports) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	wantTime(t, what+" created", got.Created, want.Created)
	if got.LastUsed.IsZero() != want.LastUsed.IsZero() {
		t.Fatalf("%s last used = %v, want %v", what, got.LastUsed, want.LastUsed)
	}
	wantTime(t, what+" last used", got.LastUsed, want.LastUsed)
}

func testPasskeys(t *testing.T, d store.Directory) {
	ctx := t.Context()
	st := newStaff(t, d)
	// Added out of order, so that oldest first is not insertion order.
	newer := store.Passkey{ID: randBytes(16), Staff: st.ID, PublicKey: randBytes(77), SignCount: 3, AAGUID: randBytes(16),
		Flags: 0x5d, Transports: []string{"usb", "nfc"}, Created: testTime.Add(time.Hour)}
	older := store.Passkey{ID: randBytes(32), Staff: st.ID, PublicKey: randBytes(77), AAGUID: make([]byte, 16),
		Flags: 0x45, Created: testTime}
	must(t, d.AddPasskey(ctx, logged(), newer))
	must(t, d.AddPasskey(ctx, logged(), older))
	wantKind(t, d.AddPasskey(ctx, logged(), newer), candor.Conflict)
	ghost := older
	ghost.ID, ghost.Staff = randBytes(16), newID("stf")
	wantKind(t, d.AddPasskey(ctx, logged(), ghost), candor.NotFound)
	bad := older
	bad.ID = nil
	wantKind(t, d.AddPasskey(ctx, logged(), bad), candor.Invalid)
	bad = older
	bad.ID, bad.Transports = randBytes(16), []string{"a,b"}
	wantKind(t, d.AddPasskey(ctx, logged(), bad), candor.Invalid)

	got, err := d.Passkey(ctx, newer.ID)
	must(t, err)
	wantPasskey(t, "Passkey", got, newer)
	_, err = d.Passkey(ctx, randBytes(16))
	wantKind(t, err, candor.NotFound)

	list, err := d.PasskeysOf(ctx, st.ID)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("PasskeysOf = %d passkeys, want 2", len(list))
	}
	wantPasskey(t, "PasskeysOf[0]", list[0], older)
	wantPasskey(t, "PasskeysOf[1]", list[1], newer)
	other := newStaff(t, d)
	if list, err := d.PasskeysOf(ctx, other.ID); err != nil || len(list) != 0 {
		t.Fatalf("PasskeysOf another staff member = %d, %v; want none", len(list), err)
	}

	used := testTime.Add(2 * time.Hour)
	must(t, d.UsePasskey(ctx, older.ID, 7, used))
	older.SignCount, older.LastUsed = 7, used
	got, err = d.Passkey(ctx, older.ID)
	must(t, err)
	wantPasskey(t, "Passkey after use", got, older)
	wantKind(t, d.UsePasskey(ctx, randBytes(16), 1, used), candor.NotFound)
	// The counter only goes up: a lower or equal one (a cloned
	// authenticator, or a use that lost a race to a later one) is a
	// Conflict and stores nothing, zero included.
	for _, n := range []uint32{6, 7, 0} {
		wantKind(t, d.UsePasskey(ctx, older.ID, n, used.Add(time.Hour)), candor.Conflict)
	}
	got, err = d.Passkey(ctx, older.ID)
	must(t, err)
	wantPasskey(t, "Passkey after refused uses", got, older)
	// An authenticator without a counter (always zero) is used as often as
	// it likes.
	plain := store.Passkey{ID: randBytes(16), Staff: other.ID, PublicKey: randBytes(77), AAGUID: []byte{}, Created: testTime}
	must(t, d.AddPasskey(ctx, logged(), plain))
	for i := range 2 {
		at := used.Add(time.Duration(i+1) * time.Minute)
		must(t, d.UsePasskey(ctx, plain.ID, 0, at))
		plain.LastUsed = at
	}
	got, err = d.Passkey(ctx, plain.ID)
	must(t, err)
	wantPasskey(t, "Passkey without a counter", got, plain)
	// Of concurrent uses, the highest counter is what stays, whatever the
	// order they land in.
	results := make(chan error, 16)
	for i := range 16 {
		go func() { results <- d.UsePasskey(ctx, older.ID, uint32(100+i), used.Add(2*time.Hour)) }()
	}
	for range 16 {
		if err := <-results; err != nil && !candor.Is(err, candor.Conflict) {
			t.Fatal(err)
		}
	}
	got, err = d.Passkey(ctx, older.ID)
	must(t, err)
	if got.SignCount != 115 {
		t.Fatalf("after concurrent uses the counter is %d, want 115 (the highest)", got.SignCount)
	}
	older.SignCount, older.LastUsed = got.SignCount, got.LastUsed

	// A record that cannot be appended stores nothing.
	lost := store.Passkey{ID: randBytes(16), Staff: st.ID, PublicKey: randBytes(77), Created: testTime}
	wantKind(t, d.AddPasskey(ctx, store.AuditRecord{}, lost), candor.Internal)
	_, err = d.Passkey(ctx, lost.ID)
	wantKind(t, err, candor.NotFound)
}

func testStaffSessions(t *testing.T, d store.Directory) {
	ctx := t.Context()
	st := newStaff(t, d)
	s := store.StaffSession{TokenHash: randBytes(32), Staff: st.ID, Created: testTime, Expires: testTime.Add(8 * time.Hour)}
	must(t, d.CreateStaffSession(ctx, logged(), s))
	wantKind(t, d.CreateStaffSession(ctx, logged(), s), candor.Conflict)
	ghost := s
	ghost.TokenHash, ghost.Staff = randBytes(32), newID("stf")
	wantKind(t, d.CreateStaffSession(ctx, logged(), ghost), candor.NotFound)
	bad := s
	bad.TokenHash, bad.Expires = randBytes(32), s.Created
	wantKind(t, d.CreateStaffSession(ctx, logged(), bad), candor.Invalid)

	got, err := d.StaffSession(ctx, s.TokenHash)
	must(t, err)
	if !bytes.Equal(got.TokenHash, s.TokenHash) || got.Staff != s.Staff {
		t.Fatalf("StaffSession = %+v, want %+v", got, s)
	}
	wantTime(t, "session created", got.Created, s.Created)
	wantTime(t, "session expires", got.Expires, s.Expires)
	_, err = d.StaffSession(ctx, randBytes(32))
	wantKind(t, err, candor.NotFound)

	who, err := d.StaffByID(ctx, st.ID)
	must(t, err)
	if who.ID != st.ID || who.Name != st.Name || !slices.Equal(who.Roles, st.Roles) {
		t.Fatalf("StaffByID = %+v, want %+v", who, st)
	}
	_, err = d.StaffByID(ctx, newID("stf"))
	wantKind(t, err, candor.NotFound)

	// A sign-in after the first session expired deletes it.
	later := store.StaffSession{TokenHash: randBytes(32), Staff: st.ID, Created: s.Expires, Expires: s.Expires.Add(8 * time.Hour)}
	must(t, d.CreateStaffSession(ctx, logged(), later))
	_, err = d.StaffSession(ctx, s.TokenHash)
	wantKind(t, err, candor.NotFound)

	must(t, d.DeleteStaffSession(ctx, later.TokenHash))
	_, err = d.StaffSession(ctx, later.TokenHash)
	wantKind(t, err, candor.NotFound)
	must(t, d.DeleteStaffSession(ctx, later.TokenHash))
}

func testApprovalMethods(t *testing.T, d store.Directory) {
	ctx := t.Context()
	req := newAccessRequest(candor.AccountID(newID("acc")), testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), req))
	byToken := store.Approval{Request: req.ID, Approver: newID("stf"), Time: testTime.Add(time.Minute)}
	byKey := store.Approval{Request: req.ID, Approver: newID("stf"), Time: testTime.Add(2 * time.Minute), Method: store.ApprovedByPasskey}
	must(t, d.AddApproval(ctx, logged(), byToken))
	must(t, d.AddApproval(ctx, logged(), byKey))
	wantKind(t, d.AddApproval(ctx, logged(), store.Approval{Request: req.ID, Approver: newID("stf"), Method: "magic"}), candor.Invalid)
	_, approvals, err := d.AccessRequest(ctx, req.ID)
	must(t, err)
	if len(approvals) != 2 || approvals[0].Method != store.ApprovedByToken || approvals[1].Method != store.ApprovedByPasskey {
		t.Fatalf("approvals = %+v, want one by token then one by passkey", approvals)
	}
}

func testRefuseAccessRequest(t *testing.T, d store.Directory) {
	ctx := t.Context()
	req := newAccessRequest(candor.AccountID(newID("acc")), testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), req))
	at := testTime.Add(time.Hour)
	must(t, d.RefuseAccessRequest(ctx, logged(), req.ID, at))
	must(t, d.RefuseAccessRequest(ctx, logged(), req.ID, at.Add(time.Hour)))
	got, _, err := d.AccessRequest(ctx, req.ID)
	must(t, err)
	if !got.RefusedByOwner {
		t.Fatal("a refused request is not marked refused by its owner")
	}
	wantTime(t, "refused", got.Revoked, at)
	wantKind(t, d.RefuseAccessRequest(ctx, logged(), newID("req"), at), candor.NotFound)

	// A request staff revoked first stays revoked by staff.
	staffRevoked := newAccessRequest(req.Account, testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), staffRevoked))
	must(t, d.RevokeAccessRequest(ctx, logged(), staffRevoked.ID, at))
	must(t, d.RefuseAccessRequest(ctx, logged(), staffRevoked.ID, at.Add(time.Hour)))
	got, _, err = d.AccessRequest(ctx, staffRevoked.ID)
	must(t, err)
	if got.RefusedByOwner {
		t.Fatal("a request revoked by staff became refused by its owner")
	}
	wantTime(t, "revoked", got.Revoked, at)
	other := newAccessRequest(req.Account, testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), other))
	if got, _, _ := d.AccessRequest(ctx, other.ID); got.RefusedByOwner || !got.Revoked.IsZero() {
		t.Fatal("a new request is refused or revoked")
	}
}

func testListAccessRequests(t *testing.T, d store.Directory) {
	ctx := t.Context()
	var want []string
	for i := range 5 {
		r := newAccessRequest(candor.AccountID(newID("acc")), testTime.Add(time.Duration((i*3)%5)*time.Minute))
		must(t, d.CreateAccessRequest(ctx, logged(), r))
		want = append(want, r.ID)
	}
	// Created at minutes 0, 3, 1, 4, 2: newest first is 3, 1, 4, 2, 0.
	order := []string{want[3], want[1], want[4], want[2], want[0]}
	got, err := d.AccessRequests(ctx, 10)
	must(t, err)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.ID
	}
	if !slices.Equal(ids, order) {
		t.Fatalf("AccessRequests = %v, want %v", ids, order)
	}
	got, err = d.AccessRequests(ctx, 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != order[0] || got[1].ID != order[1] {
		t.Fatalf("AccessRequests(2) = %d requests, want the newest 2", len(got))
	}
	_, err = d.AccessRequests(ctx, 0)
	wantKind(t, err, candor.Invalid)
}

func testChallenges(t *testing.T, d store.Directory) {
	ctx := t.Context()
	now := testTime
	ch := func(staff, request string) store.Challenge {
		return store.Challenge{Challenge: newID("chl"), Ceremony: "approve", Staff: staff, Request: request,
			Session: []byte(`{"challenge":"x"}`), Expires: now.Add(5 * time.Minute)}
	}
	a := ch("stf_a", "req_1")
	if ok, err := d.PutChallenge(ctx, a, 2, now); err != nil || !ok {
		t.Fatalf("PutChallenge = %v, %v", ok, err)
	}
	_, err := d.PutChallenge(ctx, a, 2, now)
	wantKind(t, err, candor.Conflict)
	if ok, err := d.PutChallenge(ctx, ch("stf_a", ""), 2, now); err != nil || !ok {
		t.Fatalf("a second challenge = %v, %v", ok, err)
	}
	// The limit is per staff member ("" for nobody).
	if ok, err := d.PutChallenge(ctx, ch("stf_a", ""), 2, now); err != nil || ok {
		t.Fatalf("a third challenge for one member was stored (%v, %v)", ok, err)
	}
	if ok, err := d.PutChallenge(ctx, ch("", ""), 2, now); err != nil || !ok {
		t.Fatalf("a challenge for nobody = %v, %v", ok, err)
	}
	bad := ch("stf_a", "")
	bad.Expires = now
	_, err = d.PutChallenge(ctx, bad, 2, now)
	wantKind(t, err, candor.Invalid)

	got, err := d.TakeChallenge(ctx, a.Challenge, now)
	must(t, err)
	if got.Challenge != a.Challenge || got.Ceremony != a.Ceremony || got.Staff != a.Staff || got.Request != a.Request ||
		!bytes.Equal(got.Session, a.Session) {
		t.Fatalf("TakeChallenge = %+v, want %+v", got, a)
	}
	wantTime(t, "challenge expires", got.Expires, a.Expires)
	_, err = d.TakeChallenge(ctx, a.Challenge, now)
	wantKind(t, err, candor.NotFound)
	_, err = d.TakeChallenge(ctx, newID("chl"), now)
	wantKind(t, err, candor.NotFound)
	// A taken challenge frees its place.
	if ok, err := d.PutChallenge(ctx, ch("stf_a", ""), 2, now); err != nil || !ok {
		t.Fatalf("a challenge in a freed place = %v, %v", ok, err)
	}

	// Expired: not taken, and their places freed.
	later := now.Add(5 * time.Minute)
	e := ch("", "")
	must(t, func() error { _, err := d.PutChallenge(ctx, e, 5, now); return err }())
	_, err = d.TakeChallenge(ctx, e.Challenge, later)
	wantKind(t, err, candor.NotFound)
	next := ch("stf_a", "")
	next.Expires = later.Add(5 * time.Minute)
	if ok, err := d.PutChallenge(ctx, next, 1, later); err != nil || !ok {
		t.Fatalf("expired challenges still hold places: %v, %v", ok, err)
	}

	// Of concurrent takes of one challenge, exactly one gets it.
	c := ch("stf_b", "")
	must(t, func() error { _, err := d.PutChallenge(ctx, c, 2, now); return err }())
	results := make(chan error, 8)
	for range 8 {
		go func() { _, err := d.TakeChallenge(ctx, c.Challenge, now); results <- err }()
	}
	won := 0
	for range 8 {
		if err := <-results; err == nil {
			won++
		} else if !candor.Is(err, candor.NotFound) {
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent takes got the challenge, want 1", won)
	}
}

func testSpentChallenges(t *testing.T, d store.Directory) {
	ctx := t.Context()
	now := testTime
	a := newID("chl")
	must(t, d.SpendChallenge(ctx, a, now.Add(5*time.Minute), now))
	wantKind(t, d.SpendChallenge(ctx, a, now.Add(5*time.Minute), now), candor.Conflict)
	must(t, d.SpendChallenge(ctx, newID("chl"), now.Add(5*time.Minute), now))
	wantKind(t, d.SpendChallenge(ctx, "", now.Add(time.Minute), now), candor.Invalid)
	wantKind(t, d.SpendChallenge(ctx, strings.Repeat("a", 257), now.Add(time.Minute), now), candor.Invalid)
	wantKind(t, d.SpendChallenge(ctx, newID("chl"), now, now), candor.Invalid)
	// Records expire with their challenge, and are dropped then (a
	// challenge past its expiry is refused before it gets here).
	later := now.Add(5 * time.Minute)
	must(t, d.SpendChallenge(ctx, a, later.Add(5*time.Minute), later))
	wantKind(t, d.SpendChallenge(ctx, a, later.Add(5*time.Minute), later), candor.Conflict)

	// Of concurrent spends of one challenge, exactly one wins.
	c := newID("chl")
	results := make(chan error, 8)
	for range 8 {
		go func() { results <- d.SpendChallenge(ctx, c, later.Add(time.Minute), later) }()
	}
	won := 0
	for range 8 {
		if err := <-results; err == nil {
			won++
		} else if !candor.Is(err, candor.Conflict) {
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent spends of one challenge won, want 1", won)
	}
}
