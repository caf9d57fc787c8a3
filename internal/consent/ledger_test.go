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
	if _, err := l.Set(ctx, p, candor.Photos, false, ""); err != nil {
		t.Fatal(err)
	}
	on, err := l.Set(ctx, p, candor.Contacts, true, "")
	if err != nil || !on.On || on.PolicyVersion != candor.PolicyVersion || on.Device != p.Device || !on.Time.Equal(now) {
		t.Fatalf("on: %+v %v", on, err)
	}
	// Turning on what is on keeps the epoch and appends nothing.
	again, _ := l.Set(ctx, p, candor.Contacts, true, "")
	if again.Seq != on.Seq {
		t.Fatalf("a redundant on changed the epoch: %d -> %d", on.Seq, again.Seq)
	}
	if epoch, err := l.Check(ctx, p, candor.Contacts); err != nil || epoch != on.Seq {
		t.Fatalf("check: %d %v", epoch, err)
	}
	if _, err := l.Set(ctx, p, candor.Contacts, false, "2027-01-01"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Check(ctx, p, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("after off: %v", err)
	}
	if shredded != 1 {
		t.Fatalf("turning off shredded %d times, want once", shredded)
	}
	evs, _ := l.Events(ctx, p)
	if len(evs) != 2 || !evs[0].On || evs[1].On || evs[1].PolicyVersion != "2027-01-01" {
		t.Fatalf("ledger: %+v", evs)
	}
	if _, err := l.Set(ctx, p, "location", true, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("unknown category: %v", err)
	}
}
