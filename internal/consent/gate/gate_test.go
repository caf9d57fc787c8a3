package gate_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/photos"
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
	"github.com/candorcloud/candor/internal/store/storetest"
)

// seen records the grant each call of a guarded service was handed: the
// gates' only observable effect besides refusing.
type seen struct{ grants []consent.Grant }

func (s *seen) got(g consent.Grant) error { s.grants = append(s.grants, g); return nil }

func (s *seen) Push(_ context.Context, _ store.AuditRecord, g consent.Grant, _ int64, _ []records.Change) (records.Pushed, error) {
	return records.Pushed{}, s.got(g)
}
func (s *seen) Pull(_ context.Context, _ store.AuditRecord, g consent.Grant, _ int64, _ int) (records.Feed, error) {
	return records.Feed{}, s.got(g)
}
func (s *seen) Create(_ context.Context, g consent.Grant, _ int64, _ []byte) (api.Upload, error) {
	return api.Upload{}, s.got(g)
}
func (s *seen) Status(_ context.Context, g consent.Grant, _ string) (api.Upload, error) {
	return api.Upload{}, s.got(g)
}
func (s *seen) PutPart(_ context.Context, g consent.Grant, _ string, _ int, _ io.Reader) (api.Upload, error) {
	return api.Upload{}, s.got(g)
}
func (s *seen) Complete(_ context.Context, g consent.Grant, _ string) (api.Upload, error) {
	return api.Upload{}, s.got(g)
}
func (s *seen) Open(_ context.Context, g consent.Grant, _ string) (*photos.Blob, error) {
	return nil, s.got(g)
}
func (s *seen) Delete(_ context.Context, g consent.Grant, _ string) error { return s.got(g) }
func (s *seen) RequestVerification(context.Context, candor.Principal, string) error {
	return s.got(consent.Grant{})
}
func (s *seen) Activate(context.Context, candor.Principal, api.Activation) (store.ConsentEvent, error) {
	return store.ConsentEvent{}, s.got(consent.Grant{})
}
func (s *seen) Evaluate(_ context.Context, g consent.Grant, _ [][]byte) ([][]byte, error) {
	return nil, s.got(g)
}
func (s *seen) Match(_ context.Context, g consent.Grant, _ [][]byte) ([][]byte, error) {
	return nil, s.got(g)
}
func (s *seen) Recipient(_ context.Context, g consent.Grant, _ []byte) (api.Recipient, error) {
	return api.Recipient{}, s.got(g)
}
func (s *seen) Send(_ context.Context, g consent.Grant, _ api.Send) (api.Sent, error) {
	return api.Sent{}, s.got(g)
}
func (s *seen) Inbox(_ context.Context, g consent.Grant) (api.Inbox, error) {
	return api.Inbox{}, s.got(g)
}
func (s *seen) Ack(context.Context, candor.Principal, api.Ack) error { return s.got(consent.Grant{}) }
func (s *seen) Subscribe(candor.DeviceID, func()) (func(), error) {
	return func() {}, s.got(consent.Grant{})
}

type oneRegion struct{ st *sqlstore.RegionStore }

func (o oneRegion) Consent(candor.RegionID) (consent.Store, error) { return o.st, nil }

type noShred struct{}

func (noShred) Shred(context.Context, candor.Principal, candor.Category) error { return nil }

// Every gated method refuses a category that is off before reaching the
// service, and hands the service the grant of its own category when it is
// on; the methods that turn messaging on or serve what is queued pass
// through ungated.
func TestGates(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLiteRegion(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := candor.Principal{Account: candor.NewAccountID(), Device: candor.NewDeviceID(), Region: "in"}
	if err := st.CreateAccount(ctx, store.Account{ID: p.Account, Country: "IN"}); err != nil {
		t.Fatal(err)
	}
	ledger := consent.NewLedger(oneRegion{st}, noShred{}, nil)
	next := &seen{}
	rg, ph, ms := gate.NewRecords(ledger, next), gate.NewPhotos(ledger, next), gate.NewMessaging(ledger, next)
	rec := storetest.Logged()
	calls := []struct {
		name string
		c    candor.Category // "" for an ungated method
		call func() error
	}{
		{"records push", candor.Notes, func() error { _, err := rg.Push(ctx, rec, p, candor.Notes, 1, nil); return err }},
		{"records pull", candor.Notes, func() error { _, err := rg.Pull(ctx, rec, p, candor.Notes, 0, 10); return err }},
		{"photo create", candor.Photos, func() error { _, err := ph.Create(ctx, p, 1, nil); return err }},
		{"photo status", candor.Photos, func() error { _, err := ph.Status(ctx, p, "x"); return err }},
		{"photo part", candor.Photos, func() error { _, err := ph.PutPart(ctx, p, "x", 0, nil); return err }},
		{"photo complete", candor.Photos, func() error { _, err := ph.Complete(ctx, p, "x"); return err }},
		{"photo open", candor.Photos, func() error { _, err := ph.Open(ctx, p, "x"); return err }},
		{"photo delete", candor.Photos, func() error { return ph.Delete(ctx, p, "x") }},
		{"discovery evaluate", candor.Messaging, func() error { _, err := ms.Evaluate(ctx, p, nil); return err }},
		{"discovery match", candor.Messaging, func() error { _, err := ms.Match(ctx, p, nil); return err }},
		{"recipient", candor.Messaging, func() error { _, err := ms.Recipient(ctx, p, nil); return err }},
		{"send", candor.Messaging, func() error { _, err := ms.Send(ctx, p, api.Send{}); return err }},
		{"inbox", candor.Messaging, func() error { _, err := ms.Inbox(ctx, p); return err }},
		{"verification", "", func() error { return ms.RequestVerification(ctx, p, "") }},
		{"activation", "", func() error { _, err := ms.Activate(ctx, p, api.Activation{}); return err }},
		{"ack", "", func() error { return ms.Ack(ctx, p, api.Ack{}) }},
		{"subscribe", "", func() error { _, err := ms.Subscribe(p.Device, nil); return err }},
	}
	for _, tc := range calls {
		next.grants = nil
		err := tc.call()
		switch {
		case tc.c == "" && (err != nil || len(next.grants) != 1):
			t.Errorf("%s: %v, %d calls; an ungated method passes through", tc.name, err, len(next.grants))
		case tc.c != "" && (!candor.Is(err, candor.ConsentRequired) || len(next.grants) != 0):
			t.Errorf("%s with %s off: %v, %d calls reached the service", tc.name, tc.c, err, len(next.grants))
		}
	}
	for _, c := range []candor.Category{candor.Notes, candor.Photos} {
		if _, err := ledger.Set(ctx, storetest.Logged(), p, c, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ledger.Activate(ctx, storetest.Logged(), p); err != nil {
		t.Fatal(err)
	}
	for _, tc := range calls {
		if tc.c == "" {
			continue
		}
		next.grants = nil
		if err := tc.call(); err != nil || len(next.grants) != 1 {
			t.Fatalf("%s with %s on: %v, %d calls", tc.name, tc.c, err, len(next.grants))
		}
		g := next.grants[0]
		if g.For(tc.c) != nil || g.Principal() != p || g.Epoch() <= 0 {
			t.Errorf("%s was handed %+v, want a grant of %s for the principal", tc.name, g, tc.c)
		}
	}
}
