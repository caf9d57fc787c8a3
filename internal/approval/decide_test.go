package approval

import (
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	req := store.AccessRequest{ID: "req_1", Requester: "eng", Categories: []candor.Category{candor.Contacts}, Duration: time.Hour, Created: t0}
	ap := func(who string, min int) store.Approval {
		return store.Approval{Request: "req_1", Approver: who, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	withOwner := req
	withOwner.OwnerApproval = true
	ownerDone := withOwner
	ownerDone.OwnerApproved = t0.Add(30 * time.Minute)
	revoked := req
	revoked.Revoked = t0.Add(20 * time.Minute)
	cases := []struct {
		name      string
		r         store.AccessRequest
		approvals []store.Approval
		at        int // minutes after t0
		ok        bool
		expires   int
	}{
		{"no approvals", req, nil, 10, false, 0},
		{"one approval", req, []store.Approval{ap("a1", 1)}, 10, false, 0},
		{"self-approval does not count", req, []store.Approval{ap("eng", 1), ap("a1", 2)}, 10, false, 0},
		{"the same approver twice counts once", req, []store.Approval{ap("a1", 1), ap("a1", 2)}, 10, false, 0},
		{"two others", req, []store.Approval{ap("a1", 1), ap("a2", 5)}, 10, true, 65},
		{"expired", req, []store.Approval{ap("a1", 1), ap("a2", 5)}, 65, false, 0},
		{"an approval in the future does not count yet", req, []store.Approval{ap("a1", 1), ap("a2", 50)}, 10, false, 0},
		{"revoked", revoked, []store.Approval{ap("a1", 1), ap("a2", 5)}, 25, false, 0},
		{"before the revocation", revoked, []store.Approval{ap("a1", 1), ap("a2", 5)}, 15, true, 65},
		{"owner has not approved", withOwner, []store.Approval{ap("a1", 1), ap("a2", 5)}, 10, false, 0},
		{"owner approved: the grant starts then", ownerDone, []store.Approval{ap("a1", 1), ap("a2", 5)}, 40, true, 90},
	}
	for _, tc := range cases {
		g, err := Decide(tc.r, tc.approvals, 2, t0.Add(time.Duration(tc.at)*time.Minute))
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err != nil && !candor.Is(err, candor.Forbidden) {
			t.Errorf("%s: kind %v", tc.name, candor.KindOf(err))
		}
		if tc.ok && !g.Expires.Equal(t0.Add(time.Duration(tc.expires)*time.Minute)) {
			t.Errorf("%s: expires %v", tc.name, g.Expires)
		}
	}
}

func TestAllows(t *testing.T) {
	g := Grant{Request: store.AccessRequest{Requester: "eng", Categories: []candor.Category{candor.Contacts}}}
	if g.Allows("eng", candor.Contacts) != nil {
		t.Fatal("the requester was refused their own category")
	}
	if err := g.Allows("eng", candor.Notes); !candor.Is(err, candor.Forbidden) {
		t.Fatalf("outside the grant: %v", err)
	}
	if err := g.Allows("a1", candor.Contacts); !candor.Is(err, candor.Forbidden) {
		t.Fatalf("someone else's grant: %v", err)
	}
}
