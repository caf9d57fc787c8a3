package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/approval"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// staffEnv is a production server after the ceremony, with an engineer and
// two approvers, and a phone whose contacts are synced.
type staffEnv struct {
	env               *servertest.Env
	boot, eng, a1, a2 *raw
	phone             *client.Client
	account           string
	shares            []string
}

func newStaffEnv(t *testing.T) *staffEnv {
	t.Helper()
	ctx := context.Background()
	env := servertest.StartProduction(t, server.Config{})
	op := &raw{t: t, url: env.URL}
	var init api.InitResponse
	op.must("POST", "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}, &init)
	se := &staffEnv{env: env, boot: &raw{t: t, url: env.URL, token: init.StaffToken}, shares: init.Shares}
	add := func(name, roles string) *raw {
		var s api.StaffAdded
		se.boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: name, Roles: strings.Split(roles, ",")}, &s)
		return &raw{t: t, url: env.URL, token: s.Token}
	}
	se.eng, se.a1, se.a2 = add("eng", "engineer"), add("ap1", "approver"), add("ap2", "approver")
	se.phone = newPhone(t, env, canaryIMEI)
	se.phone.Contacts().Add("Audit "+canaryName, canaryPhone)
	se.phone.Notes().Add("harbour", canaryNote)
	if _, err := se.phone.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	se.phone.SetConsent(ctx, candor.Contacts, true)
	se.phone.SetConsent(ctx, candor.Notes, true)
	if _, err := se.phone.Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := se.phone.Status()
	se.account = string(st.Account)
	return se
}

func (se *staffEnv) request(t *testing.T, cats ...string) string {
	t.Helper()
	var r api.AccessRequest
	se.eng.must("POST", "/v1/access-requests", api.AccessRequestCreate{Account: se.account, Categories: cats,
		Reason: "ticket-4711 sync bug", Duration: "1h"}, &r)
	return r.ID
}

func (r *raw) read(id, category string) answer {
	return r.call("POST", "/v1/access-requests/"+id+"/read", api.StaffReadRequest{Category: category}, nil)
}

// Staff read personal data only under a grant approved by two others, only
// the granted categories, only the requester; every read and refusal is in
// the owner's verified access log, with the reason and the approvers.
func TestStaffAccessNeedsTwoOtherApprovals(t *testing.T) {
	se := newStaffEnv(t)
	id := se.request(t, "contacts")

	refused := func(what string, a answer) {
		t.Helper()
		if a.status != 403 || a.error().Code != "forbidden" {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
	}
	refused("no approvals", se.eng.read(id, "contacts"))
	refused("an engineer approving", se.eng.call("POST", "/v1/access-requests/"+id+"/approve", nil, nil))
	se.a1.must("POST", "/v1/access-requests/"+id+"/approve", nil, nil)
	refused("one approval", se.eng.read(id, "contacts"))
	if a := se.a1.call("POST", "/v1/access-requests/"+id+"/approve", nil, nil); a.status != 409 {
		t.Fatalf("the same approver twice: %d %s", a.status, a.body)
	}
	se.a2.must("POST", "/v1/access-requests/"+id+"/approve", nil, nil)

	var read api.StaffRead
	se.eng.must("POST", "/v1/access-requests/"+id+"/read", api.StaffReadRequest{Category: "contacts"}, &read)
	if len(read.Records) != 1 || !strings.Contains(string(read.Records[0].Data), canaryName) {
		t.Fatalf("granted read: %+v", read)
	}
	refused("a category outside the grant", se.eng.read(id, "notes"))
	// An approver revoked afterwards no longer vouches for the grant.
	var staffList api.StaffList
	se.boot.must("GET", "/v1/staff", nil, &staffList)
	var ap2 string
	for _, s := range staffList.Staff {
		if s.Name == "ap2" {
			ap2 = s.ID
		}
	}
	se.boot.must("DELETE", "/v1/staff/"+ap2, nil, nil)
	refused("an approval by a revoked approver", se.eng.read(id, "contacts"))
	refused("an approver using the engineer's grant", se.a1.read(id, "contacts"))
	if a := se.a2.read(id, "contacts"); a.status != 401 {
		t.Fatalf("a revoked identity: %d %s", a.status, a.body)
	}
	if a := se.boot.read(id, "contacts"); a.status != 403 {
		t.Fatalf("the bootstrap identity read personal data: %d", a.status)
	}
	se.eng.must("POST", "/v1/access-requests/"+id+"/revoke", nil, nil)
	refused("a revoked grant", se.eng.read(id, "contacts"))

	// Role rules: nobody may hold engineer and approver together.
	if a := se.boot.call("POST", "/v1/staff", api.StaffAddRequest{Name: "both", Roles: []string{"engineer", "approver"}}, nil); a.status != 400 {
		t.Fatalf("engineer+approver: %d %s", a.status, a.body)
	}
	if a := se.eng.call("POST", "/v1/staff", api.StaffAddRequest{Name: "x", Roles: []string{"approver"}}, nil); a.status != 403 {
		t.Fatalf("an engineer adding staff: %d %s", a.status, a.body)
	}

	// The owner sees the read with its reason and approvers, and every
	// refusal, each entry verified.
	log, err := se.phone.AccessLog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var reads, denied, syncs int
	for _, e := range log {
		switch {
		case e.Action == "staff.read" && e.Outcome == "ok":
			reads++
			if e.Reason != "ticket-4711 sync bug" || len(e.Approvers) != 2 || e.Category != "contacts" {
				t.Fatalf("staff read entry: %+v", e)
			}
		case e.Action == "staff.read":
			denied++
		case strings.HasPrefix(e.Action, "records."):
			syncs++
		}
		if !e.Verified {
			t.Fatal("an unverified entry")
		}
	}
	if reads != 1 || denied != 7 || syncs == 0 {
		t.Fatalf("access log: %d reads, %d refused reads, %d syncs: %+v", reads, denied, syncs, log)
	}

	// The logs hold none of the personal data.
	scanFolder(t, se.env.Data, canaryIMEI, canaryPassword, canaryEmail, canaryName, canaryPhone, canaryNote)
	var v api.AuditVerify
	se.boot.must("POST", "/v1/audit/verify", nil, &v)
	if !v.OK {
		t.Fatalf("verify on an untouched log: %+v", v)
	}
}

// Editing, deleting or reordering a stored audit row, or editing a stored
// hash, makes verification fail and name the first bad entry, leaving the
// other logs good; a phone that saw a later checkpoint refuses a
// rolled-back log.
func TestAuditTamperingIsDetected(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
		bad  int64 // the first bad entry the report must name
	}{
		{"edit an entry", []string{`UPDATE audit_entries SET data = CAST(replace(CAST(data AS TEXT), '"ok"', '"denied"') AS BLOB) WHERE idx = 3`}, 3},
		{"delete an entry", []string{`DELETE FROM audit_entries WHERE idx = 3`}, 3},
		{"swap two entries", []string{
			`UPDATE audit_entries SET idx = -1 WHERE idx = 2`, `UPDATE audit_entries SET idx = 2 WHERE idx = 3`, `UPDATE audit_entries SET idx = 3 WHERE idx = -1`}, 2},
		// Stored hash 4 is entry 3's (tlog.StoredHashIndex(0, 3)).
		{"edit a stored hash", []string{`UPDATE audit_hashes SET hash = zeroblob(32) WHERE idx = 4`}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			se := newStaffEnv(t)
			var v api.AuditVerify
			se.boot.must("POST", "/v1/audit/verify", nil, &v) // signs checkpoints of every log
			se.env.Stop()
			db, err := sql.Open("sqlite", "file:"+filepath.Join(se.env.Data, "regions", "in", "candor.db"))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range tc.sql {
				res, err := db.Exec(q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					t.Fatalf("%s changed %d rows, want 1", q, n)
				}
			}
			db.Close()
			env := servertest.StartProduction(t, server.Config{Data: se.env.Data})
			op := &raw{t: t, url: env.URL}
			for _, s := range se.shares {
				op.must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
			}
			boot := &raw{t: t, url: env.URL, token: se.boot.token}
			boot.must("POST", "/v1/audit/verify", nil, &v)
			if v.OK {
				t.Fatal("verify passed a tampered log")
			}
			found := false
			for _, l := range v.Logs {
				switch {
				case l.Log == "in":
					found = true
					if l.OK || l.BadEntry != tc.bad {
						t.Fatalf("report: %+v, want bad entry %d", l, tc.bad)
					}
				case !l.OK:
					t.Fatalf("an untouched log fails: %+v", l)
				}
			}
			if !found {
				t.Fatalf("no report of region in's log: %+v", v)
			}
		})
	}

	t.Run("truncation and rollback", func(t *testing.T) {
		se := newStaffEnv(t)
		if _, err := se.phone.AccessLog(context.Background()); err != nil { // the phone remembers this checkpoint
			t.Fatal(err)
		}
		se.env.Stop()
		db, _ := sql.Open("sqlite", "file:"+filepath.Join(se.env.Data, "regions", "in", "candor.db"))
		var n int64
		db.QueryRow(`SELECT count(*) FROM audit_entries`).Scan(&n)
		// Cut the log back to its first two entries, keeping it internally
		// consistent (their three stored hashes), and drop the checkpoints:
		// the server will sign a smaller tree.
		for _, q := range []string{`DELETE FROM audit_entries WHERE idx >= 2`, `DELETE FROM audit_hashes WHERE idx >= 3`, `DELETE FROM audit_checkpoints`, `UPDATE audit_head SET size = 2`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		env := servertest.StartProduction(t, server.Config{Data: se.env.Data, Addr: se.env.Addr})
		op := &raw{t: t, url: env.URL}
		for _, s := range se.shares {
			op.must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
		}
		_, err := se.phone.AccessLog(context.Background())
		if !candor.Is(err, candor.Integrity) {
			t.Fatalf("a phone that saw %d entries accepted a truncated log: %v", n, err)
		}
	})
}

// When the owner asked to approve staff access, two approvers are not
// enough: the read waits for the owner's approval, given from a device.
func TestOwnerApproval(t *testing.T) {
	ctx := context.Background()
	se := newStaffEnv(t)
	if err := se.phone.SetOwnerApproval(ctx, true); err != nil {
		t.Fatal(err)
	}
	id := se.request(t, "notes")
	se.a1.must("POST", "/v1/access-requests/"+id+"/approve", nil, nil)
	se.a2.must("POST", "/v1/access-requests/"+id+"/approve", nil, nil)
	if a := se.eng.read(id, "notes"); a.status != 403 || !strings.Contains(a.error().Message, "owner") {
		t.Fatalf("read without the owner's approval: %d %s", a.status, a.body)
	}
	reqs, err := se.phone.AccessRequests(ctx)
	if err != nil || len(reqs) != 1 || reqs[0].ID != id || reqs[0].Granted || reqs[0].Reason != "ticket-4711 sync bug" {
		t.Fatalf("the owner's list: %+v %v", reqs, err)
	}
	// Another account's owner cannot approve it.
	other := newPhone(t, se.env, "356938035643817")
	if _, err := other.Signup(ctx, "someone.else@example.invalid", canaryPassword); err != nil {
		t.Fatal(err)
	}
	if err := other.ApproveAccessRequest(ctx, id); !candor.Is(err, candor.NotFound) {
		t.Fatalf("another owner approving: %v", err)
	}
	if err := se.phone.ApproveAccessRequest(ctx, id); err != nil {
		t.Fatal(err)
	}
	var read api.StaffRead
	se.eng.must("POST", "/v1/access-requests/"+id+"/read", api.StaffReadRequest{Category: "notes"}, &read)
	if len(read.Records) != 1 {
		t.Fatalf("read after the owner approved: %+v", read)
	}
}

// A writer on the database changes which entries the owner's log shows by
// the column that selects them: the phone notices an entry it saw before
// going missing, and an entry of another account shown as its own; audit
// verify notices both.
func TestAccessLogSelectionCannotBeEditedQuietly(t *testing.T) {
	ctx := context.Background()
	se := newStaffEnv(t)
	env, phone := se.env, se.phone
	other, _ := signup(t, env, "IN") // another account, in the same region's log
	other.consent("contacts", true)
	seen, err := phone.AccessLog(ctx)
	if err != nil || len(seen) < 3 {
		t.Fatalf("access log: %d entries, %v", len(seen), err)
	}
	rw, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", "in", "candor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if res, err := rw.Exec(q, args...); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s: %d rows", q, n)
		}
	}
	var mine, theirs []byte
	if err := rw.QueryRow(`SELECT account FROM audit_entries WHERE idx = ?`, seen[1].Index).Scan(&mine); err != nil {
		t.Fatal(err)
	}
	var theirIndex int64
	if err := rw.QueryRow(`SELECT idx, account FROM audit_entries WHERE account IS NOT NULL AND account <> ? ORDER BY idx DESC LIMIT 1`, mine).Scan(&theirIndex, &theirs); err != nil {
		t.Fatal(err)
	}
	verifyFails := func(what string) {
		t.Helper()
		var v api.AuditVerify
		se.boot.must("POST", "/v1/audit/verify", nil, &v)
		if v.OK {
			t.Errorf("%s: audit verify says ok", what)
		}
	}

	// An entry the phone saw is hidden from it.
	exec(`UPDATE audit_entries SET account = ? WHERE idx = ?`, make([]byte, len(mine)), seen[1].Index)
	if _, err := phone.AccessLog(ctx); !candor.Is(err, candor.Integrity) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("an entry hidden from its owner: %v, want an integrity error naming missing entries", err)
	}
	verifyFails("an entry hidden from its owner")
	exec(`UPDATE audit_entries SET account = ? WHERE idx = ?`, mine, seen[1].Index)
	if _, err := phone.AccessLog(ctx); err != nil {
		t.Fatalf("after the column was put back: %v", err)
	}

	// Another account's entry is shown as the phone's own.
	exec(`UPDATE audit_entries SET account = ? WHERE idx = ?`, mine, theirIndex)
	if _, err := phone.AccessLog(ctx); !candor.Is(err, candor.Integrity) || !strings.Contains(err.Error(), "another account") {
		t.Errorf("another account's entry shown as the phone's: %v", err)
	}
	verifyFails("another account's entry shown as the phone's")
}

// One engineer may make at most approval.MaxRequestsPerDay requests on one
// account a day (each is in the owner's list and both logs); the next is
// refused, and logged as refused. Another engineer is not held back.
func TestAccessRequestsPerDayAreBounded(t *testing.T) {
	se := newStaffEnv(t)
	for range approval.MaxRequestsPerDay {
		se.request(t, "contacts")
	}
	a := se.eng.call("POST", "/v1/access-requests", api.AccessRequestCreate{Account: se.account, Categories: []string{"contacts"},
		Reason: "ticket-4711 sync bug", Duration: "1h"}, nil)
	if a.status != http.StatusTooManyRequests || a.error().Code != "rate_limited" {
		t.Fatalf("request %d of a day: %d %s, want 429 rate_limited", approval.MaxRequestsPerDay+1, a.status, a.body)
	}
	var other api.StaffAdded
	se.boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: "eng2", Roles: []string{"engineer"}}, &other)
	(&raw{t: t, url: se.env.URL, token: other.Token}).must("POST", "/v1/access-requests", api.AccessRequestCreate{Account: se.account,
		Categories: []string{"contacts"}, Reason: "ticket-4712", Duration: "1h"}, nil)
	list, err := se.phone.AccessRequests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != approval.MaxRequestsPerDay+1 {
		t.Fatalf("the owner sees %d requests, want %d", len(list), approval.MaxRequestsPerDay+1)
	}
}
