package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// Access requests, their approvals and the owner's setting (store.Approvals).

func newAccessRequest(account candor.AccountID, created time.Time) store.AccessRequest {
	return store.AccessRequest{
		ID: newID("req"), Requester: newID("stf"), Account: account, Region: "in",
		Categories: []candor.Category{candor.SMS, candor.Contacts},
		Reason:     "ticket 4711: the owner reports missing contacts",
		Duration:   90 * time.Minute, Created: created,
	}
}

func wantAccessRequest(t *testing.T, what string, got, want store.AccessRequest) {
	t.Helper()
	if got.ID != want.ID || got.Requester != want.Requester || got.Account != want.Account || got.Region != want.Region ||
		got.Reason != want.Reason || got.Duration != want.Duration || got.OwnerApproval != want.OwnerApproval {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	if !slices.Equal(got.Categories, want.Categories) {
		t.Fatalf("%s categories = %q, want %q", what, got.Categories, want.Categories)
	}
	wantTime(t, what+" created", got.Created, want.Created)
	for _, tc := range []struct {
		name      string
		got, want time.Time
	}{{"owner approved", got.OwnerApproved, want.OwnerApproved}, {"revoked", got.Revoked, want.Revoked}} {
		if tc.got.IsZero() != tc.want.IsZero() {
			t.Fatalf("%s %s = %v, want %v", what, tc.name, tc.got, tc.want)
		}
		wantTime(t, what+" "+tc.name, tc.got, tc.want)
	}
}

func testAccessRequests(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a := candor.AccountID(newID("acc"))
	req := newAccessRequest(a, testTime)
	req.OwnerApproval = true
	must(t, d.CreateAccessRequest(ctx, logged(), req))
	got, approvals, err := d.AccessRequest(ctx, req.ID)
	must(t, err)
	wantAccessRequest(t, "AccessRequest", got, req)
	if len(approvals) != 0 {
		t.Fatalf("a new request has %d approvals", len(approvals))
	}
	_, _, err = d.AccessRequest(ctx, newID("req"))
	wantKind(t, err, candor.NotFound)

	dup := newAccessRequest(a, testTime)
	dup.ID = req.ID
	wantKind(t, d.CreateAccessRequest(ctx, logged(), dup), candor.Conflict)
	got, _, err = d.AccessRequest(ctx, req.ID)
	must(t, err)
	wantAccessRequest(t, "AccessRequest after a refused duplicate", got, req)

	// ApproveAsOwner and RevokeAccessRequest keep the first time.
	at := testTime.Add(time.Hour)
	must(t, d.ApproveAsOwner(ctx, logged(), req.ID, at))
	must(t, d.ApproveAsOwner(ctx, logged(), req.ID, at.Add(time.Hour)))
	req.OwnerApproved = at
	got, _, err = d.AccessRequest(ctx, req.ID)
	must(t, err)
	wantAccessRequest(t, "AccessRequest approved by the owner", got, req)
	must(t, d.RevokeAccessRequest(ctx, logged(), req.ID, at.Add(time.Minute)))
	must(t, d.RevokeAccessRequest(ctx, logged(), req.ID, at.Add(time.Hour)))
	req.Revoked = at.Add(time.Minute)
	got, _, err = d.AccessRequest(ctx, req.ID)
	must(t, err)
	wantAccessRequest(t, "AccessRequest revoked", got, req)
	wantKind(t, d.RevokeAccessRequest(ctx, logged(), newID("req"), at), candor.NotFound)

	// Newest first, per account.
	older := newAccessRequest(a, testTime.Add(-time.Hour))
	newer := newAccessRequest(a, testTime.Add(time.Hour))
	newer.Categories = nil
	other := newAccessRequest(candor.AccountID(newID("acc")), testTime)
	for _, r := range []store.AccessRequest{newer, other, older} {
		must(t, d.CreateAccessRequest(ctx, logged(), r))
	}
	list, err := d.AccessRequestsFor(ctx, a, 100)
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("AccessRequestsFor = %d requests, want 3", len(list))
	}
	for i, want := range []store.AccessRequest{newer, req, older} {
		wantAccessRequest(t, "AccessRequestsFor", list[i], want)
	}
	if list, err = d.AccessRequestsFor(ctx, a, 2); err != nil || len(list) != 2 || list[0].ID != newer.ID || list[1].ID != req.ID {
		t.Fatalf("AccessRequestsFor with a limit of 2 = %d requests (%v), want the 2 newest", len(list), err)
	}
	for _, limit := range []int{0, -1, 1001} {
		_, err = d.AccessRequestsFor(ctx, a, limit)
		wantKind(t, err, candor.Invalid)
	}
	list, err = d.AccessRequestsFor(ctx, candor.AccountID(newID("acc")), 100)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("AccessRequestsFor an account without requests = %d", len(list))
	}

	// A zero Created is the time of the call.
	now := newAccessRequest(a, time.Time{})
	must(t, d.CreateAccessRequest(ctx, logged(), now))
	got, _, err = d.AccessRequest(ctx, now.ID)
	must(t, err)
	if !recent(got.Created) {
		t.Fatalf("zero Created stored as %v, want the time of the call", got.Created)
	}

	// Requests are staff records: deleting the account's entry keeps them.
	must(t, d.DeleteEntry(ctx, logged(), a))
	list, err = d.AccessRequestsFor(ctx, a, 100)
	must(t, err)
	if len(list) != 4 {
		t.Fatalf("AccessRequestsFor after DeleteEntry = %d requests, want 4", len(list))
	}
}

func testApprovals(t *testing.T, d store.Directory) {
	ctx := t.Context()
	req := newAccessRequest(candor.AccountID(newID("acc")), testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), req))
	// Added out of order, so that oldest first is not insertion order.
	later := store.Approval{Request: req.ID, Approver: newID("stf"), Time: testTime.Add(2 * time.Minute)}
	first := store.Approval{Request: req.ID, Approver: newID("stf"), Time: testTime.Add(time.Minute)}
	must(t, d.AddApproval(ctx, logged(), later))
	must(t, d.AddApproval(ctx, logged(), first))
	wantKind(t, d.AddApproval(ctx, logged(), store.Approval{Request: req.ID, Approver: first.Approver, Time: testTime.Add(time.Hour)}), candor.Conflict)
	wantKind(t, d.AddApproval(ctx, logged(), store.Approval{Request: newID("req"), Approver: first.Approver, Time: testTime}), candor.NotFound)

	_, approvals, err := d.AccessRequest(ctx, req.ID)
	must(t, err)
	if len(approvals) != 2 {
		t.Fatalf("AccessRequest has %d approvals, want 2", len(approvals))
	}
	for i, want := range []store.Approval{first, later} {
		got := approvals[i]
		if got.Request != want.Request || got.Approver != want.Approver {
			t.Fatalf("approval %d = %s by %s, want %s by %s", i, got.Request, got.Approver, want.Request, want.Approver)
		}
		wantTime(t, "approval time", got.Time, want.Time)
	}

	// Approvals belong to their request.
	other := newAccessRequest(req.Account, testTime)
	must(t, d.CreateAccessRequest(ctx, logged(), other))
	must(t, d.AddApproval(ctx, logged(), store.Approval{Request: other.ID, Approver: first.Approver, Time: testTime}))
	_, approvals, err = d.AccessRequest(ctx, other.ID)
	must(t, err)
	if len(approvals) != 1 || approvals[0].Approver != first.Approver {
		t.Fatalf("other request's approvals = %+v", approvals)
	}
}

func testOwnerApproval(t *testing.T, d store.Directory) {
	ctx := t.Context()
	a, b := candor.AccountID(newID("acc")), candor.AccountID(newID("acc"))
	want := func(what string, account candor.AccountID, required bool) {
		t.Helper()
		got, err := d.OwnerApprovalRequired(ctx, account)
		must(t, err)
		if got != required {
			t.Fatalf("%s: OwnerApprovalRequired = %v, want %v", what, got, required)
		}
	}
	want("default", a, false)
	must(t, d.SetOwnerApproval(ctx, logged(), a, true))
	want("after setting it", a, true)
	want("another account", b, false)
	must(t, d.SetOwnerApproval(ctx, logged(), a, false))
	want("after clearing it", a, false)
	must(t, d.SetOwnerApproval(ctx, logged(), a, true))
	must(t, d.SetOwnerApproval(ctx, logged(), b, true))
	must(t, d.CreateEntry(ctx, store.Entry{Account: a, Handle: randBytes(32), Region: "in"}))
	must(t, d.DeleteEntry(ctx, logged(), a))
	want("after DeleteEntry", a, false)
	want("another account after DeleteEntry", b, true)
}
