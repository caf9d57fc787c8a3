package server_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// Two instances share one data folder (and, with CANDOR_TEST_POSTGRES,
// one PostgreSQL directory and region schemas). A country's migration
// started on the first stops mid-way when that instance goes down; the
// second takes the job over once the lease expires and finishes it. Every
// account is moved once, its records whole, and the job reads the same
// from either instance.
func TestMigrationTakenOverAcrossInstances(t *testing.T) {
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			cfg := server.Config{Migrations: region.Lease{Renew: 50 * time.Millisecond, Expiry: 400 * time.Millisecond}}
			if name == "postgres" {
				if os.Getenv(pgtest.Env) == "" {
					t.Skip("PostgreSQL tests skipped: set CANDOR_TEST_POSTGRES")
				}
				cfg.Postgres = servertest.Postgres(t)
			}
			migrationTakenOver(t, cfg)
		})
	}
}

func migrationTakenOver(t *testing.T, cfg server.Config) {
	one, init := ceremony(t, cfg)
	admin := addAdmin(t, one, &raw{t: t, url: one.URL, token: init.StaffToken})
	cfg.Data = one.Data
	two := servertest.StartProduction(t, cfg)
	op := &raw{t: t, url: two.URL}
	for _, s := range init.Shares {
		op.must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
	}
	admin2 := &raw{t: t, url: two.URL, token: admin.token}

	const accounts, notes = 10, 6
	phones := map[string]*raw{}
	for range accounts {
		r, s := signup(t, one, "IN")
		epoch := r.consent("notes", true)
		var changes []api.Change
		for i := range notes {
			changes = append(changes, api.Change{ID: candor.NewRecordID(), Data: []byte(fmt.Sprintf("sealed %d", i))})
		}
		r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: changes}, nil)
		phones[string(s.Account)] = r
	}

	var job api.Migration
	admin.must("POST", "/v1/operator/migrations", api.MigrateRequest{Country: "IN", To: "sg"}, &job)
	if got := admin2.call("POST", "/v1/operator/migrations", api.MigrateRequest{Country: "IN", To: "us"}, nil); got.status != 409 {
		t.Fatalf("a second job on the other instance: %d %s, want 409", got.status, got.body)
	}
	for job.Done < 1 {
		admin2.must("GET", "/v1/operator/migrations/"+job.ID, nil, &job)
	}
	if job.Finished != nil {
		t.Skipf("the job finished before the instance could be stopped: %+v", job)
	}
	var console api.Console
	admin2.must("GET", "/v1/operator/console", nil, &console)
	if len(console.Migrations) != 1 || console.Migrations[0].ID != job.ID {
		t.Fatalf("the other instance's console: %+v", console.Migrations)
	}
	id, holder := job.ID, job.Holder
	one.Stop() // mid-way, perhaps in the middle of an account

	deadline := time.Now().Add(30 * time.Second)
	for job.Finished == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the job was not finished by the other instance: %+v\n%s", job, two.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
		job = api.Migration{}
		admin2.must("GET", "/v1/operator/migrations/"+id, nil, &job)
		if job.Finished == nil && job.Holder == holder && job.Lease != nil && time.Since(*job.Lease) > 10*time.Second {
			t.Fatalf("nobody took over the job of the stopped instance: %+v", job)
		}
	}
	if !strings.Contains(two.Logs.String(), "took over a migration") {
		t.Errorf("the other instance did not log the takeover:\n%s", two.Logs.String())
	}
	if job.Error != "" || job.Done != accounts || job.Total != accounts || len(job.Moved) != accounts {
		t.Fatalf("the job after the takeover: %+v", job)
	}
	var listed []string
	for _, mv := range job.Moved {
		listed = append(listed, mv.Account)
	}
	slices.Sort(listed)
	if len(slices.Compact(listed)) != accounts {
		t.Fatalf("an account was moved twice: %v", listed)
	}
	for acct, r := range phones {
		r.url = two.URL
		var feed api.Feed
		r.must("GET", "/v1/records/notes?since=0", nil, &feed)
		if len(feed.Records) != notes {
			t.Errorf("account %s: %d notes after the move, want %d", acct, len(feed.Records), notes)
		}
		if cfg.Postgres == nil {
			if n := servertest.CountRows(t, two.Data, "sg", "SELECT count(*) FROM records WHERE account = ?", acct); n != notes {
				t.Errorf("account %s: %d records in sg, want %d exactly once", acct, n, notes)
			}
			if n := servertest.CountRows(t, two.Data, "in", "SELECT count(*) FROM accounts WHERE id = ?", acct); n != 0 {
				t.Errorf("account %s left in the source", acct)
			}
		}
	}
}
