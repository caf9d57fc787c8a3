package server_test

import (
	"context"
	"net"
	"net/http"
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
// directory (a shared data folder), each serving its region only.
func perRegion(t *testing.T) (in, sg *servertest.Env) {
	t.Helper()
	inAddr, sgAddr := freeAddr(t), freeAddr(t)
	regions := []region.Region{
		{ID: "in", Name: "India", Jurisdiction: "IN", Countries: []string{"IN"}, URL: "http://" + inAddr},
		{ID: "sg", Name: "Singapore", Jurisdiction: "SG", Countries: []string{"SG", "MY"}, URL: "http://" + sgAddr},
	}
	data := t.TempDir()
	cfg := func(serve candor.RegionID, addr string) server.Config {
		return server.Config{Regions: regions, FallbackRegion: "sg", Serve: []candor.RegionID{serve}, Addr: addr, Data: data}
	}
	in = servertest.StartWith(t, cfg("in", inAddr))
	sg = servertest.StartWith(t, cfg("sg", sgAddr))
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
