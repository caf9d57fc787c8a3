package messaging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/candorcloud/candor/internal/keyring/keyringtest"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/audit"
	"github.com/candorcloud/candor/internal/bus/membus"
	"github.com/candorcloud/candor/internal/consent"
	"github.com/candorcloud/candor/internal/consent/gate"
	"github.com/candorcloud/candor/internal/egress"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/messaging"
	"github.com/candorcloud/candor/internal/store"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// env is a deployment of two regions on disk: real SQLite directory and
// region stores, an unsealed keyring, audit logs, the consent ledger, the
// emulated carrier, an in-process bus and the messaging service, composed
// as the server does.
type env struct {
	data    string
	dir     *sqlstore.DirectoryStore
	regions map[candor.RegionID]*sqlstore.RegionStore
	keys    *keyring.Keyring
	logs    *audit.Logs
	ledger  *consent.Ledger
	carrier *messaging.Carrier
	gateway *flakyGateway // the carrier, failing while told to
	bus     *membus.Bus
	svc     *messaging.Service // the service itself
	msgs    *gate.Messaging    // behind its consent gate, as the API holds it
	now     time.Time
}

func newEnv(t *testing.T, cfg messaging.Config) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{data: t.TempDir(), regions: map[candor.RegionID]*sqlstore.RegionStore{},
		now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	var err error
	if e.dir, err = sqlstore.OpenSQLiteDirectory(filepath.Join(e.data, "directory.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.dir.Close() })
	rk := map[candor.RegionID]keyring.RegionKeys{}
	logs := map[candor.RegionID]store.AuditLog{}
	for _, id := range []candor.RegionID{"in", "sg"} {
		r, err := sqlstore.OpenSQLiteRegion(filepath.Join(e.data, string(id)+".db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		e.regions[id], rk[id], logs[id] = r, r, r
	}
	ek, _ := keyringtest.Erasure(t)
	e.keys = keyring.New(e.dir, rk, ek)
	if err := e.keys.Unseal(ctx, bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	e.logs = audit.New(e.dir, logs, e.keys, "candor-test")
	e.ledger = consent.NewLedger(e, e, nil)
	e.carrier = messaging.NewCarrier()
	e.bus = membus.New()
	t.Cleanup(func() { e.bus.Close() })
	cfg.Now = func() time.Time { return e.now }
	e.gateway = &flakyGateway{next: e.carrier}
	e.svc = messaging.New(e.dir, e, e.ledger, e.keys, e.gateway, e.bus, e.logs, cfg)
	e.msgs = gate.NewMessaging(e.ledger, e.svc)
	return e
}

// flakyGateway is the carrier behind a gateway that is down for its next
// fails texts (as a Kannel that is not answering is).
type flakyGateway struct {
	fails int
	next  messaging.Gateway
}

func (g *flakyGateway) SendSMS(ctx context.Context, to, text string) error {
	if g.fails > 0 {
		g.fails--
		return &candor.Error{Kind: candor.Unavailable, RetryAfter: 30 * time.Second, Message: "the SMS gateway is not answering"}
	}
	return g.next.SendSMS(ctx, to, text)
}

func (e *env) region(id candor.RegionID) (*sqlstore.RegionStore, error) {
	r, ok := e.regions[id]
	if !ok {
		return nil, candor.Errorf(candor.WrongRegion, "region %s is not served here", id)
	}
	return r, nil
}

func (e *env) Messages(id candor.RegionID) (store.Messages, error) { return e.region(id) }
func (e *env) Consent(id candor.RegionID) (consent.Store, error)   { return e.region(id) }

// Shred is what the server does when a category is withdrawn: for
// messaging, deactivation.
func (e *env) Shred(ctx context.Context, p candor.Principal, c candor.Category) error {
	if c == candor.Messaging {
		return e.svc.Deactivate(ctx, p)
	}
	return e.keys.Shred(ctx, p.Account, c)
}

// account makes an account homed in region and returns a principal of a
// first device.
func (e *env) account(t *testing.T, region candor.RegionID) candor.Principal {
	t.Helper()
	ctx := context.Background()
	p := candor.Principal{Account: candor.NewAccountID(), Device: candor.NewDeviceID(), Region: region}
	if err := e.regions[region].CreateAccount(ctx, store.Account{ID: p.Account, Country: "IN", Salt: make([]byte, 16), AuthHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := e.dir.CreateEntry(ctx, store.Entry{Account: p.Account, Handle: []byte(p.Account), Region: region}); err != nil {
		t.Fatal(err)
	}
	return p
}

// device returns a principal of another device of p's account.
func device(p candor.Principal) candor.Principal {
	p.Device = candor.NewDeviceID()
	return p
}

func keysOf(p candor.Principal) api.DeviceKeys {
	return api.DeviceKeys{HPKE: []byte("hpke-public-key-of-" + string(p.Device)), Sign: bytes.Repeat([]byte{byte(len(p.Device))}, 32)}
}

var codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)

// code asks for a verification code for p and returns what the carrier
// delivered to phone.
func (e *env) code(t *testing.T, p candor.Principal, phone string) string {
	t.Helper()
	if err := e.msgs.RequestVerification(context.Background(), p, phone); err != nil {
		t.Fatal(err)
	}
	sms := e.carrier.Take(phone)
	if len(sms) != 1 {
		t.Fatalf("the carrier holds %d texts for %s", len(sms), phone)
	}
	code := codePattern.FindString(sms[0].Text)
	if code == "" {
		t.Fatalf("no code in %q", sms[0].Text)
	}
	return code
}

// activate turns messaging on for p's device with phone.
func (e *env) activate(t *testing.T, p candor.Principal, phone string) {
	t.Helper()
	code := e.code(t, p, phone)
	ev, err := e.msgs.Activate(context.Background(), p, api.Activation{Phone: phone, Code: code, Keys: keysOf(p)})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.On || ev.Category != candor.Messaging {
		t.Fatalf("activation event %+v", ev)
	}
}

// tokens computes the discovery tokens of numbers as a phone does: blind,
// have the server evaluate, unblind.
func (e *env) tokens(t *testing.T, p candor.Principal, numbers ...string) [][]byte {
	t.Helper()
	in := make([][]byte, len(numbers))
	for i, n := range numbers {
		in[i] = []byte("candor/discovery/v1\x00" + n)
	}
	cl := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := cl.Blind(in)
	if err != nil {
		t.Fatal(err)
	}
	blinded := make([][]byte, len(req.Elements))
	for i, el := range req.Elements {
		if blinded[i], err = el.MarshalBinaryCompress(); err != nil {
			t.Fatal(err)
		}
	}
	evaluated, err := e.msgs.Evaluate(context.Background(), p, blinded)
	if err != nil {
		t.Fatal(err)
	}
	ev := &oprf.Evaluation{Elements: make([]oprf.Evaluated, len(evaluated))}
	for i, b := range evaluated {
		el := oprf.SuiteRistretto255.Group().NewElement()
		if err := el.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		ev.Elements[i] = el
	}
	out, err := cl.Finalize(fin, ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// envelope is a well-formed envelope of message id from p to device.
func envelope(id string, from candor.Principal, to candor.DeviceID) api.Envelope {
	return api.Envelope{ID: id, FromDevice: string(from.Device), ToDevice: string(to), Sent: time.Unix(1, 0).UTC(),
		Sealed: []byte("sealed for " + string(to)), Signature: bytes.Repeat([]byte{7}, 64)}
}

func (e *env) inbox(t *testing.T, p candor.Principal) api.Inbox {
	t.Helper()
	in, err := e.msgs.Inbox(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func ids(envs []api.Envelope) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.ID)
	}
	return out
}

func wantKind(t *testing.T, what string, err error, k candor.Kind) {
	t.Helper()
	if !candor.Is(err, k) {
		t.Fatalf("%s: got %v (kind %v), want %v", what, err, candor.KindOf(err), k)
	}
}

const (
	phoneA = "+919876543210"
	phoneB = "+6591234567"
	phoneC = "+14155550123"
)

// Messaging is on only after the number is verified with the code the
// carrier delivered; until then nothing of it answers, and the ledger
// alone cannot turn it on.
func TestActivation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	p := e.account(t, "in")

	_, err := e.msgs.Inbox(ctx, p)
	wantKind(t, "inbox before activation", err, candor.ConsentRequired)
	_, err = e.msgs.Send(ctx, p, api.Send{To: string(p.Account), Envelopes: []api.Envelope{envelope(candor.NewID("msg"), p, p.Device)}})
	wantKind(t, "send before activation", err, candor.ConsentRequired)
	_, err = e.msgs.Match(ctx, p, [][]byte{{1, 2}})
	wantKind(t, "match before activation", err, candor.ConsentRequired)
	_, err = e.msgs.Recipient(ctx, p, make([]byte, 64))
	wantKind(t, "recipient before activation", err, candor.ConsentRequired)
	_, err = audit.WrapConsent(e.ledger, e.logs).Set(ctx, p, candor.Messaging, true, "")
	wantKind(t, "messaging on through the ledger alone", err, candor.Invalid)

	keys := keysOf(p)
	_, err = e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: "000000", Keys: keys})
	wantKind(t, "activate without a code asked for", err, candor.Forbidden)
	err = e.msgs.RequestVerification(ctx, p, "9876543210")
	wantKind(t, "a number not in E.164 form", err, candor.Invalid)

	code := e.code(t, p, phoneA)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
	_, err = e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: wrong, Keys: keys})
	wantKind(t, "a wrong code", err, candor.Forbidden)
	_, err = e.msgs.Activate(ctx, p, api.Activation{Phone: phoneB, Code: code, Keys: keys})
	wantKind(t, "the code with another number", err, candor.Forbidden)
	_, err = e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: code, Keys: api.DeviceKeys{HPKE: keys.HPKE, Sign: keys.Sign[:31]}})
	wantKind(t, "a 31-byte signing key", err, candor.Invalid)
	_, err = e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: code, Keys: api.DeviceKeys{Sign: keys.Sign}})
	wantKind(t, "no HPKE key", err, candor.Invalid)
	if _, err := e.msgs.Inbox(ctx, p); !candor.Is(err, candor.ConsentRequired) {
		t.Fatalf("refused activations turned messaging on: %v", err)
	}

	ev, err := e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: code, Keys: keys})
	if err != nil || !ev.On {
		t.Fatalf("activate: %+v %v", ev, err)
	}
	if in := e.inbox(t, p); len(in.Envelopes) != 0 || len(in.Receipts) != 0 {
		t.Fatalf("a new inbox: %+v", in)
	}
	// A code works once.
	_, err = e.msgs.Activate(ctx, device(p), api.Activation{Phone: phoneA, Code: code, Keys: keys})
	wantKind(t, "the code a second time", err, candor.Forbidden)

	// The number is registered as its token only: the phone finds itself,
	// with its device's keys.
	tok := e.tokens(t, p, phoneA)[0]
	r, err := e.msgs.Recipient(ctx, p, tok)
	if err != nil || r.Account != string(p.Account) || len(r.Devices) != 1 ||
		r.Devices[0].Device != string(p.Device) || !bytes.Equal(r.Devices[0].HPKE, keys.HPKE) || !bytes.Equal(r.Devices[0].Sign, keys.Sign) {
		t.Fatalf("recipient: %+v %v", r, err)
	}
	// And the number is nowhere on disk, in any form the egress proof knows.
	scan(t, e.data, egress.Canary{Item: "phone", Value: []byte(phoneA), Kind: egress.Phone})

	// Without a gateway nobody can activate.
	none := messaging.New(e.dir, e, e.ledger, e.keys, nil, nil, e.logs, messaging.Config{})
	err = none.RequestVerification(ctx, e.account(t, "in"), phoneB)
	wantKind(t, "no gateway", err, candor.Unavailable)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// scan fails the test if the canary, in any form, is in a file under dir.
func scan(t *testing.T, dir string, c egress.Canary) {
	t.Helper()
	forms := egress.Forms(c)
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, f := range forms {
			if bytes.Contains(b, f.Bytes) {
				t.Errorf("%s (as %s) is in %s", c.Item, f.Name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("scanned no files")
	}
}

// Codes cannot be guessed or flooded: five wrong tries spend the code, at
// most three are sent an hour, and a code lasts ten minutes.
func TestVerificationLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	p := e.account(t, "in")
	code := e.code(t, p, phoneA)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
	for range 5 {
		_, err := e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: wrong, Keys: keysOf(p)})
		wantKind(t, "a wrong code", err, candor.Forbidden)
	}
	_, err := e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: code, Keys: keysOf(p)})
	wantKind(t, "the right code after five wrong ones", err, candor.Forbidden)
	err = e.msgs.RequestVerification(ctx, p, phoneA)
	wantKind(t, "a new code after five wrong tries", err, candor.RateLimited)
	if sms := e.carrier.Take(phoneA); len(sms) != 0 {
		t.Fatalf("a refused request sent %d texts", len(sms))
	}

	// An hour later the account may try again; three codes an hour.
	e.now = e.now.Add(time.Hour)
	e.code(t, p, phoneA)
	e.code(t, p, phoneA)
	last := e.code(t, p, phoneA)
	err = e.msgs.RequestVerification(ctx, p, phoneA)
	wantKind(t, "a fourth code within the hour", err, candor.RateLimited)
	// The latest code still works, within its ten minutes.
	e.now = e.now.Add(9 * time.Minute)
	if _, err := e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: last, Keys: keysOf(p)}); err != nil {
		t.Fatalf("the latest code: %v", err)
	}

	q := e.account(t, "in")
	code = e.code(t, q, phoneB)
	e.now = e.now.Add(10 * time.Minute)
	_, err = e.msgs.Activate(ctx, q, api.Activation{Phone: phoneB, Code: code, Keys: keysOf(q)})
	wantKind(t, "a code ten minutes old", err, candor.Forbidden)
}

// Contact discovery finds registered numbers only, through blind
// evaluation within a daily quota, and Recipient names their devices.
func TestDiscovery(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{EvaluationsPerDay: 4})
	a := e.account(t, "in")
	b := e.account(t, "sg")
	e.activate(t, a, phoneA)
	e.activate(t, b, phoneB)
	b2 := device(b)
	e.activate(t, b2, phoneB)

	toks := e.tokens(t, a, phoneB, phoneC)
	if bytes.Equal(toks[0], toks[1]) {
		t.Fatal("two numbers have one token")
	}
	bucket := func(tok []byte) []byte { return tok[:2] }
	found, err := e.msgs.Match(ctx, a, [][]byte{bucket(toks[0]), bucket(toks[1])})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(found, func(x []byte) bool { return bytes.Equal(x, toks[0]) }) {
		t.Fatal("a registered number is not in its bucket")
	}
	if slices.ContainsFunc(found, func(x []byte) bool { return bytes.Equal(x, toks[1]) }) {
		t.Fatal("a number nobody registered was matched")
	}
	r, err := e.msgs.Recipient(ctx, a, toks[0])
	if err != nil || r.Account != string(b.Account) || len(r.Devices) != 2 {
		t.Fatalf("recipient: %+v %v", r, err)
	}
	_, err = e.msgs.Recipient(ctx, a, toks[1])
	wantKind(t, "recipient of an unregistered number", err, candor.NotFound)

	_, err = e.msgs.Evaluate(ctx, a, [][]byte{bytes.Repeat([]byte{0xff}, 32)})
	wantKind(t, "a blinded number that is no group element", err, candor.Invalid)
	_, err = e.msgs.Evaluate(ctx, a, nil)
	wantKind(t, "no blinded numbers", err, candor.Invalid)
	_, err = e.msgs.Evaluate(ctx, a, make([][]byte, 1001))
	wantKind(t, "1001 blinded numbers", err, candor.Invalid)
	// Two were evaluated and one refused: the fourth of the day fits, a
	// fifth does not; another account has its own quota.
	e.tokens(t, a, phoneC)
	_, err = e.msgs.Evaluate(ctx, a, [][]byte{make([]byte, 32)})
	wantKind(t, "beyond the daily quota", err, candor.RateLimited)
	e.tokens(t, b, phoneA)
	e.now = e.now.Add(24 * time.Hour)
	e.tokens(t, a, phoneC)

	_, err = e.msgs.Match(ctx, a, [][]byte{{1, 2, 3}})
	wantKind(t, "a 3-byte bucket", err, candor.Invalid)
	_, err = e.msgs.Match(ctx, a, nil)
	wantKind(t, "no buckets", err, candor.Invalid)
	_, err = e.msgs.Match(ctx, a, slices.Repeat([][]byte{{1, 2}}, 1001))
	wantKind(t, "1001 buckets", err, candor.Invalid)
}

// What one account can learn by discovery in a day is bounded: buckets
// matched and recipients looked up count against the daily quota like
// numbers evaluated, so listing every member (65,536 buckets, then each
// token) is not possible; and a recipient's answer says nothing of when
// its devices were activated.
func TestDiscoveryIsBounded(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{EvaluationsPerDay: 4})
	a := e.account(t, "in")
	b := e.account(t, "sg")
	e.activate(t, a, phoneA)
	e.activate(t, b, phoneB)
	tok := e.tokens(t, b, phoneB)[0] // b's quota, not a's

	if _, err := e.msgs.Match(ctx, a, [][]byte{{0, 0}, {0, 1}, {0, 2}}); err != nil {
		t.Fatal(err)
	}
	_, err := e.msgs.Match(ctx, a, [][]byte{{0, 3}, {0, 4}})
	wantKind(t, "buckets beyond the daily quota", err, candor.RateLimited)
	if _, err := e.msgs.Match(ctx, a, [][]byte{{0, 3}}); err != nil {
		t.Fatalf("the fourth bucket of the day: %v", err)
	}
	for i := range 4 {
		r, err := e.msgs.Recipient(ctx, a, tok)
		if err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		for _, d := range r.Devices {
			if !d.Created.IsZero() {
				t.Fatalf("a recipient's device carries its activation time %v", d.Created)
			}
		}
	}
	_, err = e.msgs.Recipient(ctx, a, tok)
	wantKind(t, "a lookup beyond the daily quota", err, candor.RateLimited)
	e.now = e.now.Add(24 * time.Hour)
	if _, err := e.msgs.Recipient(ctx, a, tok); err != nil {
		t.Fatalf("a lookup the next day: %v", err)
	}
}

// A message reaches each of the recipient's devices once, in the
// recipient's region; each device sees only its own envelope; an ack
// deletes it and leaves a receipt for the sender's device in the sender's
// region.
func TestSendInboxAck(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{Expiry: 48 * time.Hour})
	s := e.account(t, "sg")
	e.activate(t, s, phoneB)
	r1 := e.account(t, "in")
	e.activate(t, r1, phoneA)
	r2 := device(r1)
	e.activate(t, r2, phoneA)

	notified := make(chan struct{}, 10)
	cancel, err := e.msgs.Subscribe(r1.Device, func() { notified <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	id := candor.NewID("msg")
	to1, to2 := envelope(id, s, r1.Device), envelope(id, s, r2.Device)
	sent, err := e.msgs.Send(ctx, s, api.Send{To: string(r1.Account), Envelopes: []api.Envelope{to1, to2}})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID != id || sent.Queued != 2 || !sent.Expires.Equal(e.now.Add(48*time.Hour)) {
		t.Fatalf("sent %+v", sent)
	}
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("the recipient's device was not notified")
	}
	// The envelopes are in the recipient's region, not the sender's.
	if envs, _ := e.regions["sg"].Pending(ctx, r1.Account, r1.Device, e.now, 10); len(envs) != 0 {
		t.Fatalf("%d envelopes queued in the sender's region", len(envs))
	}
	in1, in2 := e.inbox(t, r1), e.inbox(t, r2)
	if len(in1.Envelopes) != 1 || !equalEnvelope(in1.Envelopes[0], to1) {
		t.Fatalf("first device's inbox: %+v", in1)
	}
	if len(in2.Envelopes) != 1 || !equalEnvelope(in2.Envelopes[0], to2) {
		t.Fatalf("second device's inbox: %+v", in2)
	}
	if in := e.inbox(t, s); len(in.Envelopes) != 0 || len(in.Receipts) != 0 {
		t.Fatalf("the sender's inbox before any ack: %+v", in)
	}
	// The same message again (a retry whose answer was lost) is answered
	// as the first was, and queues nothing more.
	again, err := e.msgs.Send(ctx, s, api.Send{To: string(r1.Account), Envelopes: []api.Envelope{to1}})
	if err != nil || again.ID != id || again.Queued != 1 {
		t.Fatalf("the same message id again: %+v, %v", again, err)
	}
	if in := e.inbox(t, r1); len(in.Envelopes) != 1 {
		t.Fatalf("a message sent twice is queued %d times", len(in.Envelopes))
	}

	if err := e.msgs.Ack(ctx, r1, api.Ack{Envelopes: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if in := e.inbox(t, r1); len(in.Envelopes) != 0 {
		t.Fatalf("an acknowledged envelope is still there: %v", ids(in.Envelopes))
	}
	if in := e.inbox(t, r2); len(in.Envelopes) != 1 {
		t.Fatalf("one device's ack took the other's envelope: %v", ids(in.Envelopes))
	}
	got := e.inbox(t, s)
	if len(got.Receipts) != 1 || got.Receipts[0].ID != id || got.Receipts[0].ToDevice != string(r1.Device) || !got.Receipts[0].Time.Equal(e.now) {
		t.Fatalf("the sender's receipts: %+v", got.Receipts)
	}
	if rs, _ := e.regions["in"].Receipts(ctx, s.Account, s.Device, 10); len(rs) != 0 {
		t.Fatalf("%d receipts in the recipient's region", len(rs))
	}
	// Acking again changes nothing and sends no second receipt.
	if err := e.msgs.Ack(ctx, r1, api.Ack{Envelopes: []string{id, candor.NewID("msg")}}); err != nil {
		t.Fatal(err)
	}
	if got := e.inbox(t, s); len(got.Receipts) != 1 {
		t.Fatalf("receipts after a second ack: %+v", got.Receipts)
	}
	if err := e.msgs.Ack(ctx, s, api.Ack{Receipts: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if got := e.inbox(t, s); len(got.Receipts) != 0 {
		t.Fatalf("an acknowledged receipt is still there: %+v", got.Receipts)
	}
}

func equalEnvelope(a, b api.Envelope) bool {
	return a.ID == b.ID && a.FromDevice == b.FromDevice && a.ToDevice == b.ToDevice && a.Sent.Equal(b.Sent) &&
		bytes.Equal(a.Sealed, b.Sealed) && bytes.Equal(a.Signature, b.Signature)
}

// A malformed message is refused whole: nothing of it is queued.
func TestSendRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	s := e.account(t, "in")
	e.activate(t, s, phoneB)
	r := e.account(t, "in")
	e.activate(t, r, phoneA)
	r2 := device(r)
	e.activate(t, r2, phoneA)
	silent := e.account(t, "in") // never turned messaging on

	id := candor.NewID("msg")
	good := envelope(id, s, r.Device)
	with := func(f func(*api.Envelope)) api.Envelope { x := good; f(&x); return x }
	cases := []struct {
		name string
		send api.Send
		kind candor.Kind
	}{
		{"no envelopes", api.Send{To: string(r.Account)}, candor.Invalid},
		{"65 envelopes", api.Send{To: string(r.Account), Envelopes: slices.Repeat([]api.Envelope{good}, 65)}, candor.Invalid},
		{"no recipient", api.Send{Envelopes: []api.Envelope{good}}, candor.Invalid},
		{"a malformed recipient", api.Send{To: "../" + string(r.Account), Envelopes: []api.Envelope{good}}, candor.Invalid},
		{"an unknown recipient", api.Send{To: string(candor.NewAccountID()), Envelopes: []api.Envelope{good}}, candor.NotFound},
		{"a recipient without messaging", api.Send{To: string(silent.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.ToDevice = string(silent.Device) })}}, candor.Invalid},
		{"an unknown device", api.Send{To: string(r.Account), Envelopes: []api.Envelope{good, with(func(x *api.Envelope) { x.ToDevice = string(candor.NewDeviceID()) })}}, candor.Invalid},
		{"the sender's device as recipient device", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.ToDevice = string(s.Device) })}}, candor.Invalid},
		{"one device twice", api.Send{To: string(r.Account), Envelopes: []api.Envelope{good, good}}, candor.Invalid},
		{"two message ids", api.Send{To: string(r.Account), Envelopes: []api.Envelope{good, with(func(x *api.Envelope) { x.ID = candor.NewID("msg"); x.ToDevice = string(r2.Device) })}}, candor.Invalid},
		{"a malformed message id", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.ID = "../x" })}}, candor.Invalid},
		{"another sender device", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.FromDevice = string(candor.NewDeviceID()) })}}, candor.Invalid},
		{"nothing sealed", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.Sealed = nil })}}, candor.Invalid},
		{"too much sealed", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.Sealed = make([]byte, messaging.MaxEnvelope+1) })}}, candor.Invalid},
		{"a 63-byte signature", api.Send{To: string(r.Account), Envelopes: []api.Envelope{with(func(x *api.Envelope) { x.Signature = x.Signature[:63] })}}, candor.Invalid},
	}
	for _, c := range cases {
		_, err := e.msgs.Send(ctx, s, c.send)
		wantKind(t, c.name, err, c.kind)
	}
	for _, p := range []candor.Principal{r, r2} {
		if in := e.inbox(t, p); len(in.Envelopes) != 0 {
			t.Fatalf("refused messages queued %v", ids(in.Envelopes))
		}
	}
	// The largest envelope allowed goes through.
	big := with(func(x *api.Envelope) { x.Sealed = make([]byte, messaging.MaxEnvelope) })
	if sent, err := e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{big}}); err != nil || sent.Queued != 1 {
		t.Fatalf("the largest envelope: %+v %v", sent, err)
	}
}

// While the recipient's account is moving to another region, a message to
// it is refused as moving (Unavailable, retry) and nothing is queued where
// the move would leave it behind.
func TestSendToMovingRecipient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	s := e.account(t, "sg")
	e.activate(t, s, phoneB)
	r := e.account(t, "in")
	e.activate(t, r, phoneA)
	if err := e.dir.SetMoving(ctx, r.Account, "sg"); err != nil {
		t.Fatal(err)
	}
	m := api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(candor.NewID("msg"), s, r.Device)}}
	_, err := e.msgs.Send(ctx, s, m)
	if !errors.Is(err, candor.ErrMoving) {
		t.Fatalf("send to a moving recipient: %v", err)
	}
	wantKind(t, "send to a moving recipient", err, candor.Unavailable)
	for _, id := range []candor.RegionID{"in", "sg"} {
		if envs, _ := e.regions[id].Pending(ctx, r.Account, r.Device, e.now, 10); len(envs) != 0 {
			t.Fatalf("%d envelopes queued in %s during the move", len(envs), id)
		}
	}
	// Once the mark is cleared, the phone's retry goes through.
	if err := e.dir.SetMoving(ctx, r.Account, ""); err != nil {
		t.Fatal(err)
	}
	if sent, err := e.msgs.Send(ctx, s, m); err != nil || sent.Queued != 1 {
		t.Fatalf("send after the move: %+v %v", sent, err)
	}
	if in := e.inbox(t, r); len(in.Envelopes) != 1 {
		t.Fatalf("inbox after the move: %v", ids(in.Envelopes))
	}
}

// An envelope past its expiry is no longer delivered, and Expire deletes
// it; envelopes still in time stay.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{ExpiryIn: func(id candor.RegionID) time.Duration {
		if id == "in" {
			return time.Hour
		}
		return 24 * time.Hour
	}})
	s := e.account(t, "in")
	e.activate(t, s, phoneB)
	r := e.account(t, "in")
	e.activate(t, r, phoneA)
	old := candor.NewID("msg")
	sent, err := e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(old, s, r.Device)}})
	if err != nil || !sent.Expires.Equal(e.now.Add(time.Hour)) {
		t.Fatalf("send: %+v %v", sent, err)
	}
	e.now = e.now.Add(30 * time.Minute)
	fresh := candor.NewID("msg")
	if _, err := e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(fresh, s, r.Device)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Expire(ctx, "in"); err != nil || n != 0 {
		t.Fatalf("expire before any expiry: %d %v", n, err)
	}
	e.now = e.now.Add(31 * time.Minute)
	if got := ids(e.inbox(t, r).Envelopes); !slices.Equal(got, []string{fresh}) {
		t.Fatalf("inbox past the first expiry: %v", got)
	}
	if n, err := e.svc.Expire(ctx, "in"); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if envs, _ := e.regions["in"].Pending(ctx, r.Account, r.Device, time.Time{}, 10); len(envs) != 1 || envs[0].ID != fresh {
		t.Fatalf("left after Expire: %+v", envs)
	}
	// An expired envelope acked late sends no receipt.
	if err := e.msgs.Ack(ctx, r, api.Ack{Envelopes: []string{old}}); err != nil {
		t.Fatal(err)
	}
	if got := e.inbox(t, s); len(got.Receipts) != 0 {
		t.Fatalf("a receipt for an expired envelope: %+v", got.Receipts)
	}
	_, err = e.svc.Expire(ctx, "us")
	wantKind(t, "expire in a region not served", err, candor.WrongRegion)
}

// No principal of another account reads or acknowledges an account's
// envelopes, even from a device with the same id.
func TestOtherAccount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	s := e.account(t, "in")
	e.activate(t, s, phoneB)
	r := e.account(t, "in")
	e.activate(t, r, phoneA)
	q := e.account(t, "in")
	q.Device = r.Device
	e.activate(t, q, phoneC)

	id := candor.NewID("msg")
	if _, err := e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(id, s, r.Device)}}); err != nil {
		t.Fatal(err)
	}
	if in := e.inbox(t, q); len(in.Envelopes) != 0 {
		t.Fatalf("another account reads %v", ids(in.Envelopes))
	}
	if err := e.msgs.Ack(ctx, q, api.Ack{Envelopes: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(e.inbox(t, r).Envelopes); !slices.Equal(got, []string{id}) {
		t.Fatalf("after another account's ack the owner has %v", got)
	}
	if got := e.inbox(t, s); len(got.Receipts) != 0 {
		t.Fatalf("another account's ack sent a receipt: %+v", got.Receipts)
	}
	// The sender cannot take back or read what it sent either.
	if in := e.inbox(t, s); len(in.Envelopes) != 0 {
		t.Fatalf("the sender reads %v", ids(in.Envelopes))
	}
	if err := e.msgs.Ack(ctx, s, api.Ack{Envelopes: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(e.inbox(t, r).Envelopes); !slices.Equal(got, []string{id}) {
		t.Fatalf("after the sender's ack the owner has %v", got)
	}
}

// Acks are bounded: at most 1000 envelopes and 1000 receipts at a time.
func TestAckLimits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	p := e.account(t, "in")
	e.activate(t, p, phoneA)
	many := make([]string, 1001)
	for i := range many {
		many[i] = candor.NewID("msg")
	}
	err := e.msgs.Ack(ctx, p, api.Ack{Envelopes: many})
	wantKind(t, "1001 envelopes", err, candor.Invalid)
	err = e.msgs.Ack(ctx, p, api.Ack{Receipts: many})
	wantKind(t, "1001 receipts", err, candor.Invalid)
	if err := e.msgs.Ack(ctx, p, api.Ack{Envelopes: many[:1000], Receipts: many[:1000]}); err != nil {
		t.Fatalf("1000 of each: %v", err)
	}
}

// Turning messaging off unregisters the number and deletes the account's
// keys and queues; nobody can send to it after.
func TestTurnOff(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	s := e.account(t, "in")
	e.activate(t, s, phoneB)
	r := e.account(t, "in")
	e.activate(t, r, phoneA)
	id := candor.NewID("msg")
	if _, err := e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(id, s, r.Device)}}); err != nil {
		t.Fatal(err)
	}
	tok := e.tokens(t, s, phoneA)[0]
	if _, err := audit.WrapConsent(e.ledger, e.logs).Set(ctx, r, candor.Messaging, false, ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.msgs.Inbox(ctx, r)
	wantKind(t, "inbox after turning off", err, candor.ConsentRequired)
	if envs, _ := e.regions["in"].Pending(ctx, r.Account, r.Device, e.now, 10); len(envs) != 0 {
		t.Fatalf("%d envelopes left after turning off", len(envs))
	}
	if keys, _ := e.regions["in"].MessagingKeys(ctx, r.Account); len(keys) != 0 {
		t.Fatalf("%d device keys left after turning off", len(keys))
	}
	_, err = e.msgs.Recipient(ctx, s, tok)
	wantKind(t, "the number after turning off", err, candor.NotFound)
	_, err = e.msgs.Send(ctx, s, api.Send{To: string(r.Account), Envelopes: []api.Envelope{envelope(candor.NewID("msg"), s, r.Device)}})
	wantKind(t, "send after turning off", err, candor.Invalid)
}

// At most three codes an hour reach one number, however many accounts ask
// for it: the limit is what keeps the service from flooding a number.
func TestCodesPerNumber(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	var refused error
	for range messaging.CodesPerNumber + 2 {
		if err := e.msgs.RequestVerification(ctx, e.account(t, "in"), phoneA); err != nil {
			refused = err
		}
	}
	if sms := e.carrier.Take(phoneA); len(sms) != messaging.CodesPerNumber {
		t.Fatalf("%d codes reached one number within the hour from as many accounts, want %d", len(sms), messaging.CodesPerNumber)
	}
	if !candor.Is(refused, candor.RateLimited) {
		t.Fatalf("the request over the number's limit: %v, want rate_limited", refused)
	}
	// Another number is not affected.
	if err := e.msgs.RequestVerification(ctx, e.account(t, "in"), phoneB); err != nil {
		t.Fatalf("a code for another number: %v", err)
	}
}

// A text the gateway did not take costs nothing: not one of the account's
// three codes an hour, not one of the number's, and the code sent before
// it stays the one to type.
func TestFailedSendsCostNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, messaging.Config{})
	p := e.account(t, "in")
	e.code(t, p, phoneA) // the account's first code of the hour
	e.gateway.fails = 20
	for range 20 {
		err := e.msgs.RequestVerification(ctx, p, phoneA)
		wantKind(t, "a code while the gateway is down", err, candor.Unavailable)
	}
	if sms := e.carrier.Take(phoneA); len(sms) != 0 {
		t.Fatalf("the carrier got %d texts while the gateway was down", len(sms))
	}
	e.code(t, p, phoneA)
	last := e.code(t, p, phoneA) // the account's third code of the hour
	err := e.msgs.RequestVerification(ctx, p, phoneA)
	wantKind(t, "a fourth code within the hour", err, candor.RateLimited)
	if _, err := e.msgs.Activate(ctx, p, api.Activation{Phone: phoneA, Code: last, Keys: keysOf(p)}); err != nil {
		t.Fatalf("the latest code: %v", err)
	}

	// A failure after a code was sent leaves that code to type.
	q := e.account(t, "in")
	code := e.code(t, q, phoneB)
	e.gateway.fails = 1
	wantKind(t, "a second code while the gateway is down", e.msgs.RequestVerification(ctx, q, phoneB), candor.Unavailable)
	if _, err := e.msgs.Activate(ctx, q, api.Activation{Phone: phoneB, Code: code, Keys: keysOf(q)}); err != nil {
		t.Fatalf("the code sent before the failure: %v", err)
	}
}
