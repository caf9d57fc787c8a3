package content_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/content"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
)

// auditLog keeps the events appended, or fails every append.
type auditLog struct {
	events []audit.Event
	broken bool
}

func (l *auditLog) Append(_ context.Context, _ string, e audit.Event) error {
	if l.broken {
		return errors.New("directory unavailable")
	}
	l.events = append(l.events, e)
	return nil
}

// A publish is logged before it happens, and does not happen when it
// cannot be logged. The update repository is made, and re-signed, only
// once the keyring is unsealed; locking it keeps what it signed served.
func TestService(t *testing.T) {
	ctx := context.Background()
	env := keyringtest.New(t)
	log := &auditLog{broken: true}
	s, err := content.NewService(&content.Memory{}, content.Expiry{}, nil, env.Keys, log, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}

	cat := api.GreetingsCatalog{Locales: map[string][]api.Greeting{"ta-IN": {{ID: "pongal-1", Occasion: "pongal", Kind: "wish", Text: "இனிய பொங்கல்!"}}}}
	if _, err := s.PublishGreetings(ctx, "staff:a", cat); err == nil {
		t.Fatal("published without a log")
	}
	if g, err := s.Greetings("ta-IN", "pongal"); err == nil && len(g.Items) > 0 {
		t.Fatalf("an unlogged publish is served: %+v", g)
	}
	log.broken = false
	if _, err := s.PublishGreetings(ctx, "staff:a", cat); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Greetings("ta-IN", "pongal"); err != nil || len(g.Items) != 1 {
		t.Fatalf("after the publish: %+v %v", g, err)
	}
	if len(log.events) != 1 || log.events[0].Action != audit.ActionGreetingsPublish || log.events[0].Actor != "staff:a" {
		t.Errorf("logged: %+v", log.events)
	}

	if err := s.RenewOTA(); err != nil {
		t.Fatalf("renewing while sealed: %v", err)
	}
	if _, err := s.OTAMetadata("timestamp.json"); !candor.Is(err, candor.NotFound) {
		t.Fatalf("update metadata made while sealed: %v", err)
	}
	env.Unseal(t)
	if err := s.RenewOTA(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OTAMetadata("timestamp.json"); err != nil {
		t.Fatalf("no update metadata once unsealed: %v", err)
	}
	s.LockOTA()
	if _, err := s.OTAMetadata("timestamp.json"); err != nil {
		t.Errorf("locked, the metadata signed before is not served: %v", err)
	}
}

// mapStore is a store.Content in memory, for the tests of Stored.
type mapStore map[string][]byte

func (m mapStore) ReadContent(_ context.Context, name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, candor.Errorf(candor.NotFound, "no %s", name)
	}
	return b, nil
}

func (m mapStore) WriteContent(_ context.Context, name string, data []byte) error {
	m[name] = data
	return nil
}

// A file published before into the data folder is read from there once,
// copied into the shared store, and then served from it; writes go to the
// store only.
func TestStoredReadsLegacy(t *testing.T) {
	legacy := content.Dir(t.TempDir())
	legacy.Write("greetings/catalog.json", []byte("old"))
	st := mapStore{}
	files := content.Stored{Store: st, Legacy: legacy}
	if b, err := files.Read("greetings/catalog.json"); err != nil || string(b) != "old" {
		t.Fatalf("legacy read: %q %v", b, err)
	}
	if string(st["greetings/catalog.json"]) != "old" {
		t.Fatal("the legacy file was not copied into the store")
	}
	files.Write("greetings/catalog.json", []byte("new"))
	if b, _ := files.Read("greetings/catalog.json"); string(b) != "new" {
		t.Fatalf("after a write: %q", b)
	}
	if b, _ := legacy.Read("greetings/catalog.json"); string(b) != "old" {
		t.Fatal("a write reached the data folder")
	}
	if _, err := files.Read("ota/root.json"); !candor.Is(err, candor.NotFound) {
		t.Fatalf("absent everywhere: %v", err)
	}
}
