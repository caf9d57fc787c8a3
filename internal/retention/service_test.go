package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/retention"
)

// noUploads is a region with no photo uploads.
type noUploads struct{}

func (noUploads) Expire(context.Context, candor.RegionID) (int, error) { return 0, nil }

// A run purges every region in order, one audit event each, and reports
// them; a configured region this server holds no store of stops the run
// there. People read their region's rules in words.
func TestService(t *testing.T) {
	ctx := context.Background()
	env := keyringtest.New(t, "in")
	env.Unseal(t)
	in := env.Regions["in"]
	regions := region.Config{Regions: []region.Region{
		{ID: "in", Name: "India", Retention: retention.Rules{DeletedItems: retention.Duration(30 * 24 * time.Hour)}},
		{ID: "sg", Name: "Singapore"},
	}, Fallback: "in"}

	s := retention.New(regions, map[candor.RegionID]retention.Store{"in": in}, noUploads{}, env.Dir, env.Logs)
	run, err := s.RunRetention(ctx, "system")
	if !candor.Is(err, candor.WrongRegion) || len(run.Regions) != 1 || run.Regions[0].Region != "in" {
		t.Errorf("without sg's store: %+v, %v", run, err)
	}
	s = retention.New(regions, map[candor.RegionID]retention.Store{"in": in, "sg": in}, noUploads{}, env.Dir, env.Logs)
	if run, err = s.RunRetention(ctx, "system"); err != nil || len(run.Regions) != 2 {
		t.Errorf("%+v, %v", run, err)
	}
	if n, err := env.Dir.AuditSize(ctx); err != nil || n != 3 {
		t.Errorf("directory log: %d entries, %v; want one per region purged", n, err)
	}

	rules := s.RetentionRules("in")
	if rules.DeletedItems != "30d" || rules.UndeliveredMessages != "30d" || rules.AbandonedUploads != "1d" ||
		rules.Other["audit_events"] != retention.AuditEvents {
		t.Errorf("rules: %+v", rules)
	}
}
