package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// retryable says whether a device may simply try again after err.
func retryable(err error) bool {
	return candor.Is(err, candor.Unavailable) || candor.Is(err, candor.Conflict) || candor.Is(err, candor.Sealed)
}

func waitRotated(t *testing.T, staff *raw, region string) api.RegionStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range staff.status().Regions {
			if r.ID == region && r.Pending == 0 {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("rotation did not finish in 30 s")
	return api.RegionStatus{}
}

// A phone that syncs all the time while the region key rotates and the root
// key is replaced loses nothing and sees no error it cannot retry; after a
// restart only the new shares unseal, and every record is there.
func TestSyncDuringRotationAndRekey(t *testing.T) {
	ctx := context.Background()
	env := servertest.StartProduction(t, server.Config{})
	op := &raw{t: t, url: env.URL}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 3, Threshold: 2}, &init)
	staff := &raw{t: t, url: env.URL, token: init.StaffToken}

	// Other accounts, so there are data keys to re-wrap.
	for range 20 {
		r, _ := signup(t, env, "IN")
		for _, c := range []string{"contacts", "notes", "sms"} {
			epoch := r.consent(c, true)
			r.must("POST", "/v1/records/"+c, api.PushRequest{Epoch: epoch, Changes: []api.Change{{ID: candor.NewRecordID(), Data: []byte("x")}}}, nil)
		}
	}
	a := signedUp(t, env, canaryIMEI, candor.Contacts)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt() // the phone stops before its folder is removed, even on failure
	var mu sync.Mutex
	var added, syncs int
	var fatal []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.Contacts().Add(fmt.Sprintf("Rotating %d", i), "+919800000000"); err != nil {
				mu.Lock()
				fatal = append(fatal, err)
				mu.Unlock()
				return
			}
			_, err := a.Sync(ctx, nil)
			mu.Lock()
			added++
			if err == nil {
				syncs++
			} else if !retryable(err) {
				fatal = append(fatal, err)
			}
			mu.Unlock()
		}
	}()

	staff.must("POST", "/v1/operator/rotate", api.RotateRequest{Region: "in"}, nil)
	if r := waitRotated(t, staff, "in"); r.KeyVersion != 2 || r.DataKeys < 60 {
		t.Fatalf("after rotation: %+v", r)
	}
	staff.must("POST", "/v1/operator/rekey", api.RekeyRequest{Shares: 2, Threshold: 2}, nil)
	var done api.RekeyShareResponse
	op.must("POST", "/v1/operator/rekey/share", api.UnsealRequest{Share: init.Shares[1]}, nil)
	op.must("POST", "/v1/operator/rekey/share", api.UnsealRequest{Share: init.Shares[2]}, &done)
	if len(done.Shares) != 2 || done.Status.RootVersion != 2 {
		t.Fatalf("rekey: %+v", done)
	}
	staff.must("POST", "/v1/operator/rotate", api.RotateRequest{Region: "in"}, nil)
	waitRotated(t, staff, "in")
	time.Sleep(100 * time.Millisecond)
	halt()
	if len(fatal) > 0 {
		t.Fatalf("the phone saw errors it cannot retry: %v", fatal)
	}
	mustSync(t, a)
	if syncs == 0 {
		t.Fatal("no sync succeeded during the rotation")
	}

	// Restart: the old shares no longer unseal; the new ones do, and a new
	// phone gets every contact.
	env.Stop()
	env = servertest.StartProduction(t, server.Config{Data: env.Data})
	op = &raw{t: t, url: env.URL}
	if a := op.call("POST", "/v1/operator/unseal", api.UnsealRequest{Share: init.Shares[0]}, nil); a.status != 403 {
		t.Fatalf("an old share after rekey: %d %s", a.status, a.body)
	}
	for _, s := range done.Shares {
		op.must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
	}
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	if got, _ := b.Contacts().List(); len(got) != added {
		t.Fatalf("phone B has %d contacts, phone A added %d", len(got), added)
	}
	if st := op.status(); st.RootVersion != 2 || st.Regions[0].KeyVersion != 3 || st.Regions[0].Pending != 0 {
		t.Fatalf("after restart: %+v", st)
	}
}
