package consent_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

type oneRegion struct{ st *sqlstore.RegionStore }

func (o oneRegion) Consent(candor.RegionID) (consent.Store, error) { return o.st, nil }

type shredFunc func()

func (f shredFunc) Shred(context.Context, candor.Principal, candor.Category) error { f(); return nil }

func TestLedger(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLiteRegion(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := candor.Principal{Account: candor.NewAccountID(), Device: candor.NewDeviceID(), Region: "in"}
	if err := st.CreateAccount(ctx, store.Account{ID: p.Account, Country: "IN", Salt: make([]byte, 16), AuthHash: "x"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	shredded := 0
	l := consent.NewLedger(oneRegion{st}, shredFunc(func() { shredded++ }), func() time.Time { return now })

	// Turning off what was never on records nothing.
	if _, err := l.Set(ctx, storetest.Logged(), p, candor.Photos, false, ""); err != nil {
		t.Fatal(err)
	}
	on, err := l.Set(ctx, storetest.Logged(), p, candor.Contacts, true, "")
	if err != nil || !on.On || on.PolicyVersion != candor.PolicyVersion || on.Device != p.Device || !on.Time.Equal(now) {
		t.Fatalf("on: %+v %v", on, err)
	}
	// Turning on what is on keeps the epoch and appends nothing.
	again, _ := l.Set(ctx, storetest.Logged(), p, candor.Contacts, true, "")
	if again.Seq != on.Seq {
		t.Fatalf("a redundant on changed the epoch: %d -> %d", on.Seq, again.Seq)
	}
	if g, err := l.Check(ctx, p, candor.Contacts); err != nil || g.Epoch() != on.Seq || g.Category() != candor.Contacts || g.Principal() != p {
		t.Fatalf("check: %+v %v", g, err)
	}
	if _, err := l.Set(ctx, storetest.Logged(), p, candor.Contacts, false, "2027-01-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Check(ctx, p, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("after off: %v", err)
	}
	if shredded != 1 {
		t.Fatalf("turning off shredded %d times, want once", shredded)
	}
	evs, _ := l.Events(ctx, storetest.Logged(), p)
	if len(evs) != 2 || !evs[0].On || evs[1].On || evs[1].PolicyVersion != "2027-01-01" {
		t.Fatalf("ledger: %+v", evs)
	}
	if _, err := l.Set(ctx, storetest.Logged(), p, "location", true, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("unknown category: %v", err)
	}
	// Messaging is turned on only by activation, which grants it.
	if _, err := l.Set(ctx, storetest.Logged(), p, candor.Messaging, true, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("messaging on by Set: %v", err)
	}
	if ev, err := l.Activate(ctx, storetest.Logged(), p); err != nil || !ev.On || ev.Category != candor.Messaging {
		t.Fatalf("activate: %+v %v", ev, err)
	}
	if _, err := l.Check(ctx, p, candor.Messaging); err != nil {
		t.Fatalf("check after activation: %v", err)
	}
	// Nothing happens without its record.
	if _, err := l.Set(ctx, store.AuditRecord{}, p, candor.Notes, true, ""); !candor.Is(err, candor.Internal) {
		t.Fatalf("a change without its record: %v", err)
	}
	if _, err := l.Check(ctx, p, candor.Notes); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("a change without its record turned notes on: %v", err)
	}
}

// TestGrant checks that a grant is for one category, and that the zero
// Grant, which any package can write, grants nothing.
func TestGrant(t *testing.T) {
	var zero consent.Grant
	for _, c := range candor.Categories() {
		if err := zero.For(c); !candor.Is(err, candor.Internal) {
			t.Fatalf("the zero grant grants %s: %v", c, err)
		}
	}
}
