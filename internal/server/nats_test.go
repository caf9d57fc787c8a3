package server_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Two instances share one data folder and a real NATS server: a message
// sent through one instance is pushed to the recipient's device connected
// to the other, and delivered from there.
func TestPushAcrossInstancesOverNATS(t *testing.T) {
	url := os.Getenv("CANDOR_TEST_NATS")
	if url == "" {
		t.Skip("NATS tests skipped: set CANDOR_TEST_NATS, e.g. nats://127.0.0.1:4222 (.ci/run sets it)")
	}
	name := "candor-t-" + strings.ToLower(candor.NewID("n")[2:14])
	one := servertest.StartWith(t, server.Config{NATS: url, Name: name})
	two := servertest.StartWith(t, server.Config{NATS: url, Name: name, Data: one.Data})

	a, _ := signup(t, one, "IN")
	activate(t, a, "+919811112222")
	// b signs up on instance one and logs a second device in on instance two.
	b := &raw{t: t, url: one.URL}
	handle := handleOf(t, b, "b-phone@example.invalid")
	key := randomBytes(32)
	var s api.Session
	b.must("POST", "/v1/accounts", api.SignupRequest{Handle: handle, Salt: randomBytes(16), KDF: testKDF,
		AuthKey: key, Country: "IN", Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &s)
	b.token = s.Token
	activate(t, b, "+919833334444")
	b2 := &raw{t: t, url: two.URL}
	var s2 api.Session
	b2.must("POST", "/v1/sessions", api.LoginRequest{Handle: handle, AuthKey: key, Device: api.DeviceInfo{Pseudonym: randomBytes(32)}}, &s2)
	b2.token = s2.Token
	b2.must("POST", "/v1/messaging/verification", api.VerificationRequest{Phone: "+919833334444"}, nil)
	var in api.CarrierInbox
	b2.must("GET", "/v1/carrier/sms?to=%2B919833334444", nil, &in)
	b2.must("POST", "/v1/messaging/activation", api.Activation{Phone: "+919833334444", Code: codePattern.FindString(in.Messages[0].Text),
		Keys: api.DeviceKeys{HPKE: randomBytes(1216), Sign: randomBytes(32)}}, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(two.URL, "http", "ws", 1)+"/v1/messages/ws",
		&websocket.DialOptions{HTTPHeader: map[string][]string{"Authorization": {"Bearer " + b2.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, _, err := conn.Read(ctx); err != nil { // the greeting
		t.Fatal(err)
	}

	var recipient api.Recipient
	tok := discoveryToken(t, a, "+919833334444")
	a.must("GET", "/v1/messaging/recipients/"+tok, nil, &recipient)
	if len(recipient.Devices) != 2 {
		t.Fatalf("recipient devices: %+v", recipient.Devices)
	}
	var me api.Account
	a.must("GET", "/v1/account", nil, &me)
	id := candor.NewID("msg")
	var envs []api.Envelope
	for _, d := range recipient.Devices {
		envs = append(envs, api.Envelope{ID: id, FromDevice: me.Devices[0].ID, ToDevice: d.Device, Sent: time.Now(),
			Sealed: randomBytes(200), Signature: randomBytes(64)})
	}
	a.must("POST", "/v1/messages", api.Send{To: recipient.Account, Envelopes: envs}, nil)

	if _, _, err := conn.Read(ctx); err != nil {
		t.Fatalf("no push reached the device on the other instance: %v", err)
	}
	var inbox api.Inbox
	b2.must("GET", "/v1/messages", nil, &inbox)
	if len(inbox.Envelopes) != 1 || inbox.Envelopes[0].ID != id || inbox.Envelopes[0].ToDevice != s2.Device {
		t.Fatalf("inbox on instance two: %+v", inbox)
	}
	b2.must("POST", "/v1/messages/ack", api.Ack{Envelopes: []string{id}}, nil)
	b2.must("GET", "/v1/messages", nil, &inbox)
	if len(inbox.Envelopes) != 0 {
		t.Fatal("an acknowledged envelope stayed on the server")
	}
	// The sender gets a delivery receipt.
	var mine api.Inbox
	a.must("GET", "/v1/messages", nil, &mine)
	if len(mine.Receipts) != 1 || mine.Receipts[0].ID != id {
		t.Fatalf("receipts: %+v", mine.Receipts)
	}
}

// discoveryToken runs the discovery OPRF for a number, blindly, as a phone
// does, and returns the token as the recipients route takes it.
func discoveryToken(t *testing.T, r *raw, phone string) string {
	t.Helper()
	c := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := c.Blind([][]byte{[]byte("candor/discovery/v1\x00" + phone)})
	if err != nil {
		t.Fatal(err)
	}
	blinded, _ := req.Elements[0].MarshalBinaryCompress()
	var ev api.Evaluated
	r.must("POST", "/v1/messaging/discovery/evaluate", api.Blinded{Elements: [][]byte{blinded}}, &ev)
	e := oprf.SuiteRistretto255.Group().NewElement()
	if err := e.UnmarshalBinary(ev.Elements[0]); err != nil {
		t.Fatal(err)
	}
	out, err := c.Finalize(fin, &oprf.Evaluation{Elements: []group.Element{e}})
	if err != nil {
		t.Fatal(err)
	}
	var reg api.Registered
	r.must("POST", "/v1/messaging/discovery/match", api.Buckets{Prefixes: [][]byte{out[0][:2]}}, &reg)
	found := false
	for _, tok := range reg.Tokens {
		found = found || string(tok) == string(out[0])
	}
	if !found {
		t.Fatalf("%d tokens in the bucket, none is the number's", len(reg.Tokens))
	}
	return base64.RawURLEncoding.EncodeToString(out[0])
}

// Phones message each other through two instances; everything that crosses
// NATS, the data folder and the logs is scanned: no message text and no
// phone number, in the clear or as an unkeyed hash.
func TestMessagingLeavesNoTrace(t *testing.T) {
	url := os.Getenv("CANDOR_TEST_NATS")
	if url == "" {
		t.Skip("NATS tests skipped: set CANDOR_TEST_NATS, e.g. nats://127.0.0.1:4222 (.ci/run sets it)")
	}
	ctx := context.Background()
	name := "candor-t-" + strings.ToLower(candor.NewID("n")[2:14])
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var traffic []byte
	sub, err := nc.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		traffic = append(append(append(traffic, m.Subject...), ' '), m.Data...)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	one := servertest.StartWith(t, server.Config{NATS: url, Name: name})
	two := servertest.StartWith(t, server.Config{NATS: url, Name: name, Data: one.Data})

	const text = "Gingerbread-lighthouse hello"
	a := newPhoneAt(t, one, canaryIMEI, "+919811112222")
	b := newPhoneAt(t, two, "356938035643817", "+919833334444")
	for _, p := range []*client.Client{a, b} {
		if _, err := p.Signup(ctx, "m"+strings.ToLower(candor.NewID("x")[2:10])+"@example.invalid", canaryPassword); err != nil {
			t.Fatal(err)
		}
		if _, err := p.ActivateMessaging(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SendMessage(ctx, "+919833334444", text); err != nil {
		t.Fatal(err)
	}
	in, err := b.Inbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := b.Messages()
	got := false
	for _, m := range msgs {
		got = got || m.Text == text
	}
	if !got {
		t.Fatalf("B did not receive the message: %+v %+v", in, msgs)
	}
	nc.Flush()
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	seen := append([]byte(nil), traffic...)
	mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("no NATS traffic was recorded: the test would prove nothing")
	}
	canaries := []string{text, "+919833334444", "919833334444", "+919811112222", "919811112222"}
	for _, hit := range findCanaries(seen, canaries...) {
		t.Errorf("%s crossed NATS", hit)
	}
	for _, hit := range findCanaries([]byte(one.Logs.String()+two.Logs.String()), canaries...) {
		t.Errorf("%s is in the logs", hit)
	}
	scanFolder(t, one.Data, canaries...)
}

func newPhoneAt(t *testing.T, env *servertest.Env, imei, phone string) *client.Client {
	t.Helper()
	c, err := client.Init(t.TempDir(), client.Config{Server: env.URL, IMEI: imei, Phone: phone, Country: "IN"},
		client.WithKDF(testKDF), client.WithKDFFloor(testKDF))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
