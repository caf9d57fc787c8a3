package server_test

import (
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/region"
	"github.com/candorcloud/candor/internal/relay"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// perRegion starts one process for region in and one for sg, over one
// directory (a shared data folder), each serving its region only: --dev
// processes, or production ones when start is servertest.StartProduction.
func perRegion(t *testing.T, start ...func(testing.TB, server.Config) *servertest.Env) (in, sg *servertest.Env) {
	t.Helper()
	begin := servertest.StartWith
	if len(start) > 0 {
		begin = start[0]
	}
	inAddr, sgAddr := freeAddr(t), freeAddr(t)
	regions := []region.Region{
		{ID: "in", Name: "India", Jurisdiction: "IN", Countries: []string{"IN"}, URL: "http://" + inAddr},
		{ID: "sg", Name: "Singapore", Jurisdiction: "SG", Countries: []string{"SG", "MY"}, URL: "http://" + sgAddr},
	}
	data := t.TempDir()
	cfg := func(serve candor.RegionID, addr string) server.Config {
		return server.Config{Regions: regions, FallbackRegion: "sg", Serve: []candor.RegionID{serve}, Addr: addr, Data: data}
	}
	in = begin(t, cfg("in", inAddr))
	sg = begin(t, cfg("sg", sgAddr))
	return in, sg
}

// A phone, a browser or a CardDAV client may reach the process of a region
// that is not its account's: the request is relayed to the account's
// region and answered from there, and nothing of the account is written
// on the way.
func TestOneProcessPerRegion(t *testing.T) {
	ctx := context.Background()
	in, sg := perRegion(t)

	// A phone of India signs up and syncs through Singapore's process.
	a := newPhone(t, sg, canaryIMEI)
	a.Contacts().Add("Asha Verma", "+919800000001")
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetConsent(ctx, candor.Contacts, true); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a)
	st, _ := a.Status()
	if st.Region != "in" {
		t.Fatalf("the account's region is %q, want in", st.Region)
	}
	inRows := servertest.CountRows(t, in.Data, "in", `SELECT count(*) FROM records`)
	sgRows := servertest.CountRows(t, sg.Data, "sg", `SELECT count(*) FROM records`)
	if inRows == 0 || sgRows != 0 {
		t.Fatalf("records: %d in region in, %d in sg; want them in in only", inRows, sgRows)
	}
	// A second phone signs in through India's process and gets them.
	b := newPhone(t, in, "356938035643817")
	if _, err := b.Login(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatalf("login through the home region's process: %v", err)
	}
	mustSync(t, b)
	if got, _ := b.Contacts().List(); len(got) != 1 {
		t.Fatalf("the second phone has %d contacts", len(got))
	}

	// A login and a salt for a handle of Singapore, asked of India.
	c, _ := signup(t, in, "SG")
	var acct api.Account
	c.must("GET", "/v1/account", nil, &acct)
	if acct.Region != "sg" {
		t.Fatalf("a Singapore account made through India's process is in %q", acct.Region)
	}

	// Messaging across the two: each phone talks to the other region's
	// process; the message is queued in the recipient's region.
	x, _ := signup(t, sg, "IN")
	y, _ := signup(t, in, "SG")
	activate(t, x, "+919811112222")
	ys := activate(t, y, "+6581112222")
	var recipient api.Recipient
	x.must("GET", "/v1/messaging/recipients/"+discoveryToken(t, x, "+6581112222"), nil, &recipient)
	var me api.Account
	x.must("GET", "/v1/account", nil, &me)
	id := candor.NewID("msg")
	x.must("POST", "/v1/messages", api.Send{To: recipient.Account, Envelopes: []api.Envelope{{ID: id, FromDevice: me.Devices[0].ID,
		ToDevice: ys.Device, Sent: time.Now(), Sealed: randomBytes(200), Signature: randomBytes(64)}}}, nil)
	var inbox api.Inbox
	y.must("GET", "/v1/messages", nil, &inbox)
	if len(inbox.Envelopes) != 1 || inbox.Envelopes[0].ID != id {
		t.Fatalf("the recipient's inbox: %+v", inbox)
	}
	y.must("POST", "/v1/messages/ack", api.Ack{Envelopes: []string{id}}, nil)
	var mine api.Inbox
	x.must("GET", "/v1/messages", nil, &mine)
	if len(mine.Receipts) != 1 || mine.Receipts[0].ID != id {
		t.Fatalf("the sender's receipts: %+v", mine.Receipts)
	}

	// A message socket through the other region's process.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(wctx, strings.Replace(in.URL, "http", "ws", 1)+"/v1/messages/ws",
		&websocket.DialOptions{HTTPHeader: map[string][]string{"Authorization": {"Bearer " + y.token}}})
	if err != nil {
		t.Fatalf("a message socket through the other region's process: %v", err)
	}
	if _, _, err := conn.Read(wctx); err != nil {
		t.Fatalf("the socket's greeting: %v", err)
	}
	conn.CloseNow()

	// CardDAV through the other region's process.
	phone, _ := signup(t, sg, "IN")
	phone.consent("contacts", true)
	var ap api.AppPassword
	phone.must("POST", "/v1/app-passwords", api.AppPasswordRequest{Name: "Thunderbird"}, &ap)
	resp := davRequest(t, sg, ap, "PUT", "/dav/me/books/contacts/a.vcf", card("a", "Ravi Kumar"), "Content-Type", "text/vcard")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a card put through the other region's process: %d", resp.StatusCode)
	}
	if resp := davRequest(t, in, ap, "GET", "/dav/me/books/contacts/a.vcf", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the card read through the home process: %d", resp.StatusCode)
	}

	// Nothing of India's accounts was written to Singapore's store (its
	// devices, consents, keys and records all refer to an account row).
	if n := servertest.CountRows(t, sg.Data, "sg", `SELECT count(*) FROM accounts WHERE country = 'IN'`); n != 0 {
		t.Errorf("Singapore's store holds %d accounts of India", n)
	}
	for _, table := range []string{"devices", "consent_events", "data_keys", "records"} {
		if n := servertest.CountRows(t, sg.Data, "sg", `SELECT count(*) FROM `+table+` WHERE account NOT IN (SELECT id FROM accounts)`); n != 0 {
			t.Errorf("Singapore's %s holds %d rows of accounts it does not hold", table, n)
		}
	}

	// A request relayed already is not relayed again; a region whose
	// processes are down answers 503, to be retried.
	req, _ := http.NewRequest("GET", sg.URL+"/v1/account", nil)
	req.Header.Set("Authorization", "Bearer "+x.token)
	req.Header.Set(relay.Relayed, "1")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("a relayed request for another region: %v %v, want 421", r.StatusCode, err)
	}
	in.Stop()
	if a := x.call("GET", "/v1/account", nil, nil); a.status != http.StatusServiceUnavailable || !strings.Contains(string(a.body), "unavailable") {
		t.Fatalf("with India's processes down: %d %s, want 503 unavailable", a.status, a.body)
	}
}

// productionPair is perRegion with production processes: the key ceremony
// on India's, both unsealed by the same custodians. It returns the
// bootstrap identity, through Singapore's process.
func productionPair(t *testing.T) (in, sg *servertest.Env, boot *raw) {
	t.Helper()
	in, sg = perRegion(t, servertest.StartProduction)
	var init api.InitResponse
	(&raw{t: t, url: in.URL}).must("POST", "/v1/operator/init", api.InitRequest{Shares: 2, Threshold: 2}, &init)
	for _, s := range init.Shares {
		(&raw{t: t, url: sg.URL}).must("POST", "/v1/operator/unseal", api.UnsealRequest{Share: s}, nil)
	}
	return in, sg, &raw{t: t, url: sg.URL, token: init.StaffToken}
}

// A country moves between regions served by separate processes: the job,
// started through Singapore's process, opens India's key for the moved
// data keys only; afterwards the account is served by Singapore's process
// wherever its phones connect, every record and photo readable.
func TestMigrationBetweenRegionProcesses(t *testing.T) {
	ctx := context.Background()
	in, _, boot := productionPair(t)
	src := t.TempDir()
	photos := writePhotos(t, src, 200_000)
	a := newPhone(t, in, canaryIMEI)
	a.Contacts().Add("Ravi Kumar", canaryPhone)
	a.Photos().Import(src)
	if _, err := a.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	a.SetConsent(ctx, candor.Contacts, true)
	a.SetConsent(ctx, candor.Photos, true)
	mustSync(t, a)

	var job api.Migration
	boot.must("POST", "/v1/operator/migrations", api.MigrateRequest{Country: "IN", To: "sg"}, &job)
	for deadline := time.Now().Add(30 * time.Second); job.Finished == nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		boot.must("GET", "/v1/operator/migrations/"+job.ID, nil, &job)
	}
	if job.Finished == nil || job.Error != "" || job.Done != 1 {
		t.Fatalf("the migration: %+v", job)
	}
	if n := servertest.CountRows(t, in.Data, "in", `SELECT count(*) FROM records`); n != 0 {
		t.Errorf("India's store keeps %d records after the move", n)
	}
	mustSync(t, a) // through India's process, relayed to Singapore's now
	if st, _ := a.Status(); st.Region != "sg" {
		t.Fatalf("the account's region after the move: %q", st.Region)
	}
	b := loggedIn(t, in, "356938035643817")
	mustSync(t, b)
	if cs, _ := b.Contacts().List(); len(cs) != 1 || cs[0].Name != "Ravi Kumar" {
		t.Errorf("contacts restored after the move: %+v", cs)
	}
	ps, _ := b.Photos().List()
	if len(ps) != 1 {
		t.Fatalf("%d photos restored after the move", len(ps))
	}
	if data, _ := os.ReadFile(ps[0].File); !photos[sha256.Sum256(data)] {
		t.Error("the photo is not byte-identical after the move")
	}
}

// A staff read under a grant, asked of another region's process, is
// relayed to the account's region, which serves and logs it: the asking
// process holds neither that region's key nor its audit log.
func TestStaffReadRelayed(t *testing.T) {
	ctx := context.Background()
	_, sg, boot := productionPair(t)
	add := func(name, roles string) *raw {
		var s api.StaffAdded
		boot.must("POST", "/v1/staff", api.StaffAddRequest{Name: name, Roles: strings.Split(roles, ",")}, &s)
		return &raw{t: t, url: sg.URL, token: s.Token}
	}
	eng, a1, a2 := add("eng", "engineer"), add("ap1", "approver"), add("ap2", "approver")

	phone := newPhone(t, sg, canaryIMEI) // India's account, through Singapore's process
	phone.Contacts().Add("Audit "+canaryName, canaryPhone)
	if _, err := phone.Signup(ctx, canaryEmail, canaryPassword); err != nil {
		t.Fatal(err)
	}
	phone.SetConsent(ctx, candor.Contacts, true)
	mustSync(t, phone)
	st, _ := phone.Status()

	var req api.AccessRequest
	eng.must("POST", "/v1/access-requests", api.AccessRequestCreate{Account: string(st.Account), Categories: []string{"contacts"},
		Reason: "ticket-4711 sync bug", Duration: "1h"}, &req)
	a1.must("POST", "/v1/access-requests/"+req.ID+"/approve", nil, nil)
	a2.must("POST", "/v1/access-requests/"+req.ID+"/approve", nil, nil)
	var read api.StaffRead
	eng.must("POST", "/v1/access-requests/"+req.ID+"/read", api.StaffReadRequest{Category: "contacts"}, &read)
	if len(read.Records) != 1 || !strings.Contains(string(read.Records[0].Data), canaryName) {
		t.Fatalf("the read through Singapore's process: %+v", read)
	}
	// The owner sees it in the access log, kept by India's region.
	log, err := phone.AccessLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		found = found || e.Action == "staff.read" && e.Outcome == "ok"
	}
	if !found {
		t.Fatalf("the staff read is not in the owner's access log: %+v", log)
	}
}
