package server_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Accounts get the home region of their country; migrating one while its
// phone keeps adding and syncing moves every record and photo to the
// target exactly once, and leaves nothing of it in the source.
func TestMigrationUnderSync(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, server.Config{})
	admin := addAdmin(t, env, boot)

	regions := map[string]candor.RegionID{}
	for _, cc := range []string{"SG", "US"} {
		_, s := signup(t, env, cc)
		regions[cc] = candor.RegionID(s.Region)
	}
	src := t.TempDir()
	photos := writePhotos(t, src, 300_000)
	a := newPhone(t, env, canaryIMEI)
	a.Photos().Import(src)
	for i := range 50 {
		a.Contacts().Add(fmt.Sprintf("Before %d", i), "+919800000001")
	}
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)
	st, _ := a.Status()
	if st.Region != "in" || regions["SG"] != "sg" || regions["US"] != "us" {
		t.Fatalf("home regions: IN %s, SG %s, US %s", st.Region, regions["SG"], regions["US"])
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	added := 0
	var fatal error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			a.Contacts().Add(fmt.Sprintf("During %d", i), "+919800000002")
			added++
			if _, err := a.Sync(ctx, nil); err != nil && !retryable(err) {
				fatal = err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	var job api.Migration
	admin.must("POST", "/v1/operator/migrations", api.MigrateRequest{Country: "IN", To: "sg"}, &job)
	for deadline := time.Now().Add(30 * time.Second); job.Finished == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		admin.must("GET", "/v1/operator/migrations/"+job.ID, nil, &job)
	}
	close(stop)
	wg.Wait()
	if job.Error != "" || job.Done != 1 {
		t.Fatalf("migration: %+v", job)
	}
	if fatal != nil {
		t.Fatalf("the phone saw an error it cannot retry: %v", fatal)
	}
	mustSync(t, a)
	if st, _ := a.Status(); st.Region != "sg" {
		t.Fatalf("the phone thinks its region is %s", st.Region)
	}
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	if got, _ := b.Contacts().List(); len(got) != 50+added {
		t.Fatalf("after the move a new phone has %d contacts, want %d", len(got), 50+added)
	}
	ps, _ := b.Photos().List()
	if len(ps) != 1 {
		t.Fatalf("%d photos after the move", len(ps))
	}
	data, _ := os.ReadFile(ps[0].File)
	if !photos[sha256.Sum256(data)] {
		t.Fatal("the photo is not byte-identical after the move")
	}
	acct := string(st.Account)
	for _, q := range []string{"SELECT count(*) FROM records WHERE account = ?", "SELECT count(*) FROM data_keys WHERE account = ?",
		"SELECT count(*) FROM accounts WHERE id = ?"} {
		if n := servertest.CountRows(t, env.Data, "in", q, acct); n != 0 {
			t.Errorf("%s: %d rows left in the source", q, n)
		}
	}
	if n := servertest.CountRows(t, env.Data, "sg", "SELECT count(*) FROM records WHERE account = ?", acct); n != 50+added+1 {
		t.Errorf("%d records in the target, want %d exactly once", n, 50+added+1)
	}
	// Running it again changes nothing.
	var again api.Migration
	admin.must("POST", "/v1/operator/migrations", api.MigrateRequest{Account: acct, To: "sg"}, &again)
	for id := again.ID; again.Finished == nil; {
		time.Sleep(20 * time.Millisecond)
		again = api.Migration{}
		admin.must("GET", "/v1/operator/migrations/"+id, nil, &again)
	}
	if again.Error != "" || len(again.Moved) != 1 || !again.Moved[0].Already {
		t.Fatalf("second run: %+v", again)
	}
}

// Retention removes what its rules say, and nothing else: in a region whose
// rule keeps deleted items a moment, tombstones go; live records stay, and
// another region's tombstones stay.
func TestRetentionRemovesOnlyWhatRulesSay(t *testing.T) {
	env, boot := staffServer(t, shortRetention())

	write := func(country string) (*raw, string) {
		r, s := signup(t, env, country)
		epoch := r.consent("notes", true)
		keep, gone := candor.NewRecordID(), candor.NewRecordID()
		r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{{ID: keep, Data: []byte("a")}, {ID: gone, Data: []byte("b")}}}, nil)
		r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{{ID: gone, BaseVersion: 1, Deleted: true}}}, nil)
		return r, s.Account
	}
	in, inAcct := write("IN")
	_, usAcct := write("US")
	time.Sleep(10 * time.Millisecond)
	var run api.RetentionRun
	boot.must("POST", "/v1/operator/retention", nil, &run)
	// The server's own hourly run may have purged "in" first (it runs
	// once as soon as the server is unsealed): either run may count it.
	for _, p := range run.Regions {
		if p.Region != "in" && p.DeletedItems != 0 {
			t.Errorf("region %s purged %d deleted items, want 0", p.Region, p.DeletedItems)
		}
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM records WHERE account = ?", inAcct); n != 1 {
		t.Errorf("%d records left in, want the live one", n)
	}
	if n := servertest.CountRows(t, env.Data, "us", "SELECT count(*) FROM records WHERE account = ?", usAcct); n != 2 {
		t.Errorf("%d records in us, want both (its rule keeps tombstones 90 days)", n)
	}
	var rules api.Retention
	in.must("GET", "/v1/account/retention", nil, &rules)
	if rules.Region != "in" || rules.DeletedItems != "1ms" || rules.UndeliveredMessages != "30d" || rules.Other["audit_events"] == "" {
		t.Fatalf("the rules a person sees: %+v", rules)
	}
}

// setMoving marks an account moving (to "", not moving) straight in the
// directory, as a migration does before it copies.
func setMoving(t *testing.T, env *servertest.Env, account, to string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "directory.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v any
	if to != "" {
		v = to
	}
	if _, err := db.Exec("UPDATE directory_entries SET moving = ? WHERE account = ?", v, account); err != nil {
		t.Fatal(err)
	}
}

// While an account moves nothing can be written to it in its old region:
// not by its phones, not by a new login, not by a sender. Each gets a
// retryable 503, and all works again once it has moved.
func TestMovingAccountTakesNoWrites(t *testing.T) {
	env := servertest.Start(t)
	a, _ := signup(t, env, "IN")
	sa := activate(t, a, "+919811112222")
	b := &raw{t: t, url: env.URL}
	handle := handleOf(t, b, "b-phone@example.invalid")
	key := randomBytes(32)
	var sb api.Session
	b.must("POST", "/v1/accounts", api.SignupRequest{Handle: handle, Salt: randomBytes(16), KDF: testKDF,
		AuthKey: key, Country: "IN", Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &sb)
	b.token = sb.Token
	activate(t, b, "+919833334444")
	b.consent("contacts", true)

	send := func() answer {
		env := api.Envelope{ID: candor.NewID("msg"), FromDevice: string(sa.Device), ToDevice: string(sb.Device),
			Sent: time.Now(), Sealed: randomBytes(200), Signature: randomBytes(64)}
		return a.call("POST", "/v1/messages", api.Send{To: string(sb.Account), Envelopes: []api.Envelope{env}}, nil)
	}
	login := func() answer {
		return (&raw{t: t, url: env.URL}).call("POST", "/v1/sessions",
			api.LoginRequest{Handle: handle, AuthKey: key, Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, nil)
	}
	sync := func() answer { return b.call("GET", "/v1/records/contacts?since=0", nil, nil) }

	setMoving(t, env, string(sb.Account), "sg")
	for what, try := range map[string]func() answer{"a message to it": send, "a new login": login, "its own sync": sync} {
		got := try()
		if got.status != http.StatusServiceUnavailable || got.error().Code != "unavailable" {
			t.Errorf("%s while it moves: %d %s, want 503 unavailable", what, got.status, got.body)
		}
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM envelopes WHERE account = ?", string(sb.Account)); n != 0 {
		t.Errorf("%d envelopes were queued for an account that is moving", n)
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM devices WHERE account = ?", string(sb.Account)); n != 1 {
		t.Errorf("%d devices after a login while moving, want the 1 from before", n)
	}
	setMoving(t, env, string(sb.Account), "")
	for what, try := range map[string]func() answer{"a message to it": send, "a new login": login, "its own sync": sync} {
		if got := try(); got.status/100 != 2 {
			t.Errorf("%s after the move: %d %s", what, got.status, got.body)
		}
	}
}

// A phone away longer than its region keeps deletions learns of them all
// the same: the server tells it its cursor is too old, it reads the
// category again from the start and drops what was deleted elsewhere, and
// keeps its own unsynced changes.
func TestPhoneAwayPastRetentionCatchesUp(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, shortRetention())

	a := signedUp(t, env, canaryIMEI, candor.Notes)
	var ids []string
	for i := range 3 {
		n, _ := a.Notes().Add(fmt.Sprintf("note %d", i), "body")
		ids = append(ids, n.ID)
	}
	mustSync(t, a)
	b := loggedIn(t, env, "356938035643817")
	mustSync(t, b)
	// B goes away with a change of its own; meanwhile A deletes two notes,
	// and retention purges their tombstones.
	b.Notes().Update(ids[2], "note 2", "edited on B")
	a.Notes().Delete(ids[0])
	a.Notes().Delete(ids[1])
	a.Notes().Add("note 3", "body")
	mustSync(t, a)
	time.Sleep(10 * time.Millisecond)
	var run api.RetentionRun
	boot.must("POST", "/v1/operator/retention", nil, &run)
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM records WHERE deleted"); n != 0 {
		t.Fatalf("%d tombstones left after the retention run (%+v)", n, run)
	}
	res, err := b.Sync(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	reset := false
	for _, r := range res {
		reset = reset || (r.Category == candor.Notes && r.Reset)
	}
	if !reset {
		t.Errorf("B did not read notes again: %+v", res)
	}
	// Once caught up, B is not sent back to the start again.
	for range 2 {
		res, err := b.Sync(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Reset {
				t.Errorf("B read %s again on a later sync: %+v", r.Category, r)
			}
		}
	}
	for name, p := range map[string]*client.Client{"B": b, "A": a} {
		if name == "A" {
			mustSync(t, a)
		}
		notes, _ := p.Notes().List()
		got := map[string]string{}
		for _, n := range notes {
			got[n.Title] = n.Body
		}
		if len(got) != 2 || got["note 2"] != "edited on B" || got["note 3"] != "body" {
			t.Errorf("%s holds %v, want note 2 (B's edit) and note 3 only", name, got)
		}
	}
}

// A move that stopped (the server went down with an account marked moving)
// is reported after the next unseal, and `migrate --resume` takes the
// account on to where it was moving.
func TestResumeStoppedMoves(t *testing.T) {
	ctx := context.Background()
	env, init := ceremony(t, server.Config{})
	admin := addAdmin(t, env, &raw{t: t, url: env.URL, token: init.StaffToken})

	a := newPhone(t, env, canaryIMEI)
	for i := range 20 {
		a.Contacts().Add(fmt.Sprintf("Person %d", i), "+919800000001")
	}
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	mustSync(t, a)
	st, _ := a.Status()
	setMoving(t, env, string(st.Account), "sg")

	data, addr := env.Data, env.Addr
	env.Stop()
	env = servertest.StartProduction(t, server.Config{Data: data, Addr: addr})
	op := &raw{t: t, url: env.URL}
	for _, s := range init.Shares {
		op.must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(env.Logs.String(), "migrate --resume"); {
		if time.Now().After(deadline) {
			t.Fatalf("no word in the log of the account left moving: %s", env.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, bad := range []api.MigrateRequest{{Resume: true, To: "sg"}, {Resume: true, Country: "IN"}, {}} {
		if got := admin.call("POST", "/v1/operator/migrations", bad, nil); got.status != 400 {
			t.Errorf("%+v: %d %s, want 400", bad, got.status, got.body)
		}
	}
	var job api.Migration
	admin.must("POST", "/v1/operator/migrations", api.MigrateRequest{Resume: true}, &job)
	for id := job.ID; job.Finished == nil; {
		time.Sleep(20 * time.Millisecond)
		job = api.Migration{}
		admin.must("GET", "/v1/operator/migrations/"+id, nil, &job)
	}
	if job.Error != "" || job.Total != 1 || job.Done != 1 || job.Moved[0].To != "sg" || job.Moved[0].Records != 20 {
		t.Fatalf("resume: %+v", job)
	}
	if n := servertest.CountRows(t, env.Data, "sg", "SELECT count(*) FROM records WHERE account = ?", string(st.Account)); n != 20 {
		t.Errorf("%d records in sg, want 20", n)
	}
	if n := servertest.CountRows(t, env.Data, "in", "SELECT count(*) FROM records WHERE account = ?", string(st.Account)); n != 0 {
		t.Errorf("%d records left in the source", n)
	}
}

// After a purge, a category longer than one page is read whole by a new
// phone, and a purge in one category does not stop the other's syncs.
func TestPurgeWithManyPages(t *testing.T) {
	ctx := context.Background()
	env, boot := staffServer(t, shortRetention())

	a := signedUp(t, env, canaryIMEI, candor.Notes, candor.Contacts)
	var last string
	for i := range 1205 {
		n, _ := a.Notes().Add(fmt.Sprintf("note %d", i), "body")
		last = n.ID
	}
	c, _ := a.Contacts().Add("Gone Soon", "+919800000009")
	a.Contacts().Add("Stays", "+919800000010")
	mustSync(t, a)
	// The newest change of each category is a deletion, then purged.
	a.Notes().Delete(last)
	a.Contacts().Delete(c.ID)
	mustSync(t, a)
	time.Sleep(10 * time.Millisecond)
	boot.must("POST", "/v1/operator/retention", nil, nil)

	b := loggedIn(t, env, "356938035643817")
	for i := range 3 {
		res, err := b.Sync(ctx, nil)
		if err != nil {
			t.Fatalf("sync %d of a new phone after a purge: %v", i+1, err)
		}
		for _, r := range res {
			if r.Reset {
				t.Errorf("sync %d: %s was read again: %+v", i+1, r.Category, r)
			}
		}
	}
	notes, _ := b.Notes().List()
	contacts, _ := b.Contacts().List()
	if len(notes) != 1204 || len(contacts) != 1 {
		t.Fatalf("the new phone holds %d notes and %d contacts, want 1204 and 1", len(notes), len(contacts))
	}
	// A had not pulled its own deletions back, so its cursors are below
	// the purged position: it may read each category once more, and then
	// syncs on without being sent back to the start.
	for i := range 3 {
		res, err := a.Sync(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Reset && i > 0 {
				t.Errorf("A read %s again on sync %d: %+v", r.Category, i+1, r)
			}
		}
	}
	if notes, _ := a.Notes().List(); len(notes) != 1204 {
		t.Errorf("A holds %d notes after catching up, want 1204", len(notes))
	}
}
