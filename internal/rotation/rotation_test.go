package rotation_test

import (
	"context"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/rotation"
)

// wakes counts how often the re-wrapping was woken.
type wakes int

func (w *wakes) Wake() { *w++ }

// Starting a rotation makes a new key version current, logs it and wakes
// the re-wrapping; a region not configured is refused; while sealed the
// regions are listed without their keys and nothing starts.
func TestStartRotation(t *testing.T) {
	ctx := context.Background()
	env := keyringtest.New(t, "in")
	var woken wakes
	regions := region.Config{Regions: []region.Region{{ID: "in", Name: "India"}}, Fallback: "in"}
	s := rotation.New(regions, env.Keys, env.Logs, &woken)

	if st := s.RegionStatus(ctx); len(st) != 1 || st[0].Name != "India" || st[0].KeyVersion != 0 {
		t.Errorf("sealed: %+v", st)
	}
	if err := s.StartRotation(ctx, "in", "staff:x"); !candor.Is(err, candor.Sealed) || woken != 0 {
		t.Errorf("started while sealed: %v, woken %d times", err, woken)
	}
	env.Unseal(t)
	if err := s.StartRotation(ctx, "sg", "staff:x"); !candor.Is(err, candor.NotFound) {
		t.Errorf("a region not served: %v", err)
	}
	if err := s.StartRotation(ctx, "in", "staff:x"); err != nil {
		t.Fatal(err)
	}
	if st := s.RegionStatus(ctx); st[0].KeyVersion != 2 || woken != 1 {
		t.Errorf("after the start: %+v, woken %d times", st, woken)
	}
	if n, err := env.Dir.AuditSize(ctx); err != nil || n != 1 {
		t.Errorf("directory log: %d entries, %v; want the rotation's", n, err)
	}
}
