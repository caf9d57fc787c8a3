package server_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/retention"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// samples are the samples of a /metrics answer, by series as the text
// writes it: name{label="value",...}, labels sorted by name.
type samples map[string]float64

// scrape reads the server's /metrics.
func scrape(t *testing.T, env *servertest.Env) (samples, []byte) {
	t.Helper()
	a := (&raw{t: t, url: env.URL}).send("GET", "/metrics", "", nil)
	if a.status != 200 {
		t.Fatalf("/metrics: %d", a.status)
	}
	out := samples{}
	sc := bufio.NewScanner(bytes.NewReader(a.body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, a.body
}

// series is the text of a series: name and label pairs, sorted by label.
func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i < len(labels); i += 2 {
		pairs = append(pairs, labels[i]+`="`+labels[i+1]+`"`)
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// has is the value of a series, failing the test if it is not exported.
func (s samples) has(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	k := series(name, labels...)
	v, ok := s[k]
	if !ok {
		t.Fatalf("/metrics has no %s", k)
	}
	return v
}

// grew checks that a series grew by want between two scrapes (want < 0:
// by at least one).
func grew(t *testing.T, before, after samples, want float64, name string, labels ...string) {
	t.Helper()
	d := after.has(t, name, labels...) - before[series(name, labels...)]
	if want < 0 && d < 1 || want >= 0 && d != want {
		t.Errorf("%s grew by %v, want %v", series(name, labels...), d, want)
	}
}

// waitFor scrapes until ok holds, failing after timeout.
func waitFor(t *testing.T, env *servertest.Env, timeout time.Duration, what string, ok func(samples) bool) samples {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		s, _ := scrape(t, env)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
	}
}

// Syncs are counted by direction, category, region and outcome with the
// records they carry; an integrity failure is counted as a failure of the
// server; the audit logs' appends grow, their checkpoints are fresh and
// their verification found nothing. Nothing that names the account or the
// device is in the metrics.
func TestMetricsOfSyncsAndAuditLogs(t *testing.T) {
	env := servertest.Start(t)
	// The upkeep's first pass verifies every log and signs its checkpoints.
	before := waitFor(t, env, 20*time.Second, "no verification of the audit logs", func(s samples) bool {
		_, ok := s[series("candor_audit_verification_failed", "log", "in")]
		return ok
	})
	r, sess := signup(t, env, "IN")
	epoch := r.consent("notes", true)
	a := r.call("POST", "/v1/records/contacts", api.PushRequest{Epoch: 1, Changes: []api.Change{{ID: candor.NewRecordID(), Data: []byte("x")}}}, nil)
	if a.error().Code != "consent_required" {
		t.Fatalf("a push with contacts off: %d %s", a.status, a.body)
	}
	r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{
		{ID: candor.NewRecordID(), Data: []byte("one")}, {ID: candor.NewRecordID(), Data: []byte("two")}}}, nil)
	r.must("GET", "/v1/records/notes?since=0", nil, nil)
	after, _ := scrape(t, env)
	grew(t, before, after, 1, "candor_syncs_total", "direction", "push", "category", "notes", "region", "in", "outcome", "ok")
	grew(t, before, after, 1, "candor_syncs_total", "direction", "push", "category", "contacts", "region", "in", "outcome", "consent_required")
	grew(t, before, after, 1, "candor_syncs_total", "direction", "pull", "category", "notes", "region", "in", "outcome", "ok")
	grew(t, before, after, 2, "candor_sync_records_total", "direction", "push", "category", "notes", "region", "in")
	grew(t, before, after, 2, "candor_sync_records_total", "direction", "pull", "category", "notes", "region", "in")
	grew(t, before, after, 0, "candor_sync_records_total", "direction", "push", "category", "contacts", "region", "in")
	grew(t, before, after, -1, "candor_audit_appends_total", "log", "in")
	// The directory's log is counted too (signing up appends nothing to it).
	if v := after.has(t, "candor_audit_appends_total", "log", "directory"); v < before[series("candor_audit_appends_total", "log", "directory")] {
		t.Errorf("the directory log's appends went down to %v", v)
	}
	for _, log := range []string{"directory", "in", "us"} {
		if v := after.has(t, "candor_audit_verification_failed", "log", log); v != 0 {
			t.Errorf("log %s: verification failed = %v on an untouched log", log, v)
		}
		if v := after.has(t, "candor_audit_checkpoint_age_seconds", "log", log); v < 0 || v > 60 {
			t.Errorf("log %s: checkpoint age %vs just after the upkeep signed it", log, v)
		}
	}

	// A record whose ciphertext was edited in the database fails its check.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", "in", "candor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE records SET ciphertext = zeroblob(length(ciphertext)) WHERE account = ?", sess.Account); err != nil {
		t.Fatal(err)
	}
	if a := r.call("GET", "/v1/records/notes?since=0", nil, nil); a.error().Code != "integrity" {
		t.Fatalf("a pull of edited ciphertext: %d %s", a.status, a.body)
	}
	final, text := scrape(t, env)
	grew(t, after, final, 1, "candor_request_failures_total", "kind", "integrity")
	grew(t, after, final, 0, "candor_request_failures_total", "kind", "internal")
	grew(t, after, final, 1, "candor_syncs_total", "direction", "pull", "category", "notes", "region", "in", "outcome", "integrity")
	for _, id := range []string{sess.Account, sess.Device, sess.Token} {
		if id == "" || bytes.Contains(text, []byte(id)) {
			t.Errorf("the metrics hold %q (or it is unknown)", id)
		}
	}
}

// Envelopes queued, delivered (acknowledged, once) and expired are counted
// by the recipient's region; the WebSocket gauge follows sockets opening
// and closing.
func TestMetricsOfMessaging(t *testing.T) {
	d := region.Defaults()
	for i := range d.Regions {
		if d.Regions[i].ID == "us" { // undelivered messages to "us" expire at once
			d.Regions[i].Retention = retention.Rules{UndeliveredMessages: retention.Duration(time.Millisecond)}
		}
	}
	env := servertest.StartWith(t, server.Config{Regions: d.Regions, FallbackRegion: d.Fallback})
	before, _ := scrape(t, env)
	if v := before.has(t, "candor_websocket_connections"); v != 0 {
		t.Fatalf("%v WebSockets open before any", v)
	}
	a, _ := signup(t, env, "IN")
	sa := activate(t, a, "+919811112222")
	b, _ := signup(t, env, "IN")
	sb := activate(t, b, "+919833334444")
	c, _ := signup(t, env, "US")
	sc := activate(t, c, "+12025550143")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(env.URL, "http", "ws", 1)+"/v1/messages/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + b.token}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Read(ctx); err != nil { // the greeting notice: the socket is counted
		t.Fatal(err)
	}
	if s, _ := scrape(t, env); s.has(t, "candor_websocket_connections") != 1 {
		t.Errorf("WebSockets open: %v, want 1", s.has(t, "candor_websocket_connections"))
	}

	send := func(to api.Session) string {
		id := candor.NewID("msg")
		a.must("POST", "/v1/messages", api.Send{To: to.Account, Envelopes: []api.Envelope{{ID: id, FromDevice: sa.Device,
			ToDevice: to.Device, Sent: time.Now(), Sealed: randomBytes(100), Signature: randomBytes(64)}}}, nil)
		return id
	}
	id := send(sb)
	var in api.Inbox
	b.must("GET", "/v1/messages", nil, &in)
	if len(in.Envelopes) != 1 {
		t.Fatalf("b's inbox: %+v", in)
	}
	b.must("POST", "/v1/messages/ack", api.Ack{Envelopes: []string{id}}, nil)
	b.must("POST", "/v1/messages/ack", api.Ack{Envelopes: []string{id}}, nil) // again: nothing more is deleted
	mid, _ := scrape(t, env)
	grew(t, before, mid, 1, "candor_messages_queued_total", "region", "in")
	grew(t, before, mid, 1, "candor_messages_delivered_total", "region", "in")
	grew(t, before, mid, 0, "candor_messages_expired_total", "region", "in")

	conn.Close(websocket.StatusNormalClosure, "")
	waitFor(t, env, 10*time.Second, "the closed WebSocket is still counted", func(s samples) bool {
		return s[series("candor_websocket_connections")] == 0
	})

	// A message to "us" expires unfetched: the upkeep deletes it at its
	// next pass.
	send(sc)
	waitFor(t, env, 30*time.Second, "the message to us did not expire", func(s samples) bool {
		return s[series("candor_messages_expired_total", "region", "us")] >= 1
	})
	after, text := scrape(t, env)
	grew(t, before, after, 1, "candor_messages_queued_total", "region", "us")
	grew(t, before, after, 0, "candor_messages_delivered_total", "region", "us")
	for _, s := range []string{sa.Account, sb.Account, sc.Account, sa.Device, sb.Device, sc.Device,
		"919811112222", "919833334444", "12025550143", a.token, b.token, c.token} {
		if s == "" || bytes.Contains(text, []byte(s)) {
			t.Errorf("the metrics hold %q (or it is unknown)", s)
		}
	}
}

// Retention runs are counted with what they purge by region and kind; a
// verification that finds a log edited sets its gauge; no migration runs.
func TestMetricsOfRetentionAndTampering(t *testing.T) {
	env, boot := staffServer(t, shortRetention())
	before, _ := scrape(t, env)
	if v := before.has(t, "candor_sealed"); v != 0 {
		t.Fatalf("sealed = %v after the ceremony", v)
	}
	r, _ := signup(t, env, "IN")
	epoch := r.consent("notes", true)
	gone := candor.NewRecordID()
	r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{{ID: gone, Data: []byte("b")}}}, nil)
	r.must("POST", "/v1/records/notes", api.PushRequest{Epoch: epoch, Changes: []api.Change{{ID: gone, BaseVersion: 1, Deleted: true}}}, nil)
	time.Sleep(10 * time.Millisecond)
	boot.must("POST", "/v1/operator/retention", nil, nil)
	// The upkeep's own hourly run may purge the tombstone first: both are
	// counted.
	after := waitFor(t, env, 10*time.Second, "no tombstone purged in region in", func(s samples) bool {
		return s[series("candor_retention_purged_total", "region", "in", "kind", "deleted_items")] >= 1
	})
	grew(t, before, after, -1, "candor_retention_runs_total", "outcome", "ok")
	grew(t, before, after, 0, "candor_retention_purged_total", "region", "us", "kind", "deleted_items")
	after.has(t, "candor_retention_purged_total", "region", "directory", "kind", "expired_sessions")
	after.has(t, "candor_retention_purged_total", "region", "in", "kind", "abandoned_uploads")
	for _, c := range []struct {
		name   string
		labels []string
	}{{"candor_migration_running", nil}, {"candor_migration_accounts", []string{"state", "total"}}, {"candor_migration_accounts", []string{"state", "done"}}} {
		if v := after.has(t, c.name, c.labels...); v != 0 {
			t.Errorf("%s = %v with no migration running", series(c.name, c.labels...), v)
		}
	}

	// Someone deletes an entry of region in's log in the database.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(env.Data, "regions", "in", "candor.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM audit_entries WHERE idx = 1`); err != nil {
		t.Fatal(err)
	}
	var v api.AuditVerify
	boot.must("POST", "/v1/audit/verify", nil, &v)
	if v.OK {
		t.Fatal("a log with an entry deleted verified")
	}
	s, _ := scrape(t, env)
	if got := s.has(t, "candor_audit_verification_failed", "log", "in"); got != 1 {
		t.Errorf("region in's log: verification failed = %v, want 1", got)
	}
	if got := s.has(t, "candor_audit_verification_failed", "log", "us"); got != 0 {
		t.Errorf("region us's log: verification failed = %v, want 0", got)
	}

	// Sealed, the server says so; its refusals are not failures.
	boot.must("POST", "/v1/operator/seal", nil, nil)
	r.call("GET", "/v1/records/notes?since=0", nil, nil)
	sealed, _ := scrape(t, env)
	if v := sealed.has(t, "candor_sealed"); v != 1 {
		t.Errorf("sealed = %v after sealing", v)
	}
	grew(t, s, sealed, 0, "candor_request_failures_total", "kind", "unavailable")
	grew(t, s, sealed, 0, "candor_request_failures_total", "kind", "internal")
}
