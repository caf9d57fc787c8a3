package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// ---- Pure tests: formats and checks, no server ----

func TestEnvelopeSignedBytesEncoding(t *testing.T) {
	sent := time.Date(2026, 11, 21, 7, 6, 48, 123_000_000, time.UTC)
	env := api.Envelope{ID: "msg_a", FromDevice: "dev_b", ToDevice: "dev_cc", Sent: sent, Sealed: []byte{1, 2, 3}, Signature: []byte("ignored")}
	var want []byte
	want = append(want, "candor/message-signature/v1\x00"...)
	want = append(want, 0, 0, 0, 5)
	want = append(want, "msg_a"...)
	want = append(want, 0, 0, 0, 5)
	want = append(want, "dev_b"...)
	want = append(want, 0, 0, 0, 6)
	want = append(want, "dev_cc"...)
	want = binary.BigEndian.AppendUint64(want, uint64(sent.UnixNano()))
	want = append(want, 0, 0, 0, 3, 1, 2, 3)
	if got := EnvelopeSignedBytes(env); !bytes.Equal(got, want) {
		t.Fatalf("signed bytes\n got %x\nwant %x", got, want)
	}
	// The signature itself is not covered, and the time zone does not
	// matter; every other field is, unambiguously.
	env2 := env
	env2.Signature = nil
	env2.Sent = sent.In(time.FixedZone("IST", 5*3600+1800))
	if !bytes.Equal(EnvelopeSignedBytes(env2), want) {
		t.Error("signed bytes depend on the signature or the time zone")
	}
	for name, mod := range map[string]func(e *api.Envelope){
		"id":          func(e *api.Envelope) { e.ID = "msg_ad" },
		"from/to":     func(e *api.Envelope) { e.FromDevice, e.ToDevice = "dev_bd", "ev_cc" },
		"to":          func(e *api.Envelope) { e.ToDevice = "dev_cd" },
		"sent":        func(e *api.Envelope) { e.Sent = e.Sent.Add(time.Millisecond) },
		"sealed":      func(e *api.Envelope) { e.Sealed = []byte{1, 2, 4} },
		"sealed size": func(e *api.Envelope) { e.Sealed = []byte{1, 2} },
	} {
		e := env
		mod(&e)
		if bytes.Equal(EnvelopeSignedBytes(e), want) {
			t.Errorf("changing %s does not change the signed bytes", name)
		}
	}
}

func TestHPKERoundTrip(t *testing.T) {
	k := must[*messagingKeys](t)(newMessagingKeys("acc_x", "dev_x", time.Now()))
	pub := must[api.DeviceKeys](t)(k.public())
	if len(pub.HPKE) != 1216 || len(pub.Sign) != ed25519.PublicKeySize {
		t.Fatalf("public keys of %d and %d bytes", len(pub.HPKE), len(pub.Sign))
	}
	if messageKEM().ID() != hpke.MLKEM768X25519().ID() {
		t.Fatal("the KEM is not MLKEM768-X25519")
	}
	msg := []byte(`{"id":"msg_1","text":"Gingerbread-lighthouse hello"}`)
	sealed := must[[]byte](t)(seal(pub.HPKE, msg))
	if bytes.Contains(sealed, []byte("Gingerbread")) {
		t.Fatal("the sealed bytes hold the text")
	}
	// The private key survives its state file.
	var k2 messagingKeys
	b, _ := json.Marshal(k)
	json.Unmarshal(b, &k2)
	hk := must[hpke.PrivateKey](t)(k2.hpkeKey())
	if got := must[[]byte](t)(unseal(hk, sealed)); !bytes.Equal(got, msg) {
		t.Fatalf("round trip gave %q", got)
	}
	// Sealed to the standard suite: plain hpke.Open with the documented
	// parameters opens it.
	if got, err := hpke.Open(hk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("candor/message/v1"), sealed); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("hpke.Open with the documented suite: %v", err)
	}
	other := must[*messagingKeys](t)(newMessagingKeys("acc_x", "dev_y", time.Now()))
	ok := must[hpke.PrivateKey](t)(other.hpkeKey())
	if _, err := unseal(ok, sealed); err == nil {
		t.Error("another device's key opened the envelope")
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := unseal(hk, bad); err == nil {
		t.Error("a tampered ciphertext opened")
	}
	if _, err := hpke.Open(hk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("candor/other/v1"), sealed); err == nil {
		t.Error("the envelope opened under another info string")
	}
}

// pair is a sending device and a receiving device, with the sender's
// published keys as the receiver's lookup sees them.
type pair struct {
	from, to   *messagingKeys
	fromPub    api.DeviceKeys
	toPub      api.DeviceKeys
	published  map[string][]api.DeviceKeys // number → devices
	lookups    int
	freshCalls int
}

const (
	numberA = "+919811112222"
	numberB = "+919833334444"
	numberC = "+919855556666"
)

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{
		from: must[*messagingKeys](t)(newMessagingKeys("acc_aaaaaaaaaaaaaaaaaaaaaaaaaa", candor.NewID("dev"), time.Now())),
		to:   must[*messagingKeys](t)(newMessagingKeys("acc_bbbbbbbbbbbbbbbbbbbbbbbbbb", candor.NewID("dev"), time.Now())),
	}
	p.fromPub = must[api.DeviceKeys](t)(p.from.public())
	p.toPub = must[api.DeviceKeys](t)(p.to.public())
	p.published = map[string][]api.DeviceKeys{numberA: {p.fromPub}}
	return p
}

func (p *pair) receiver(t *testing.T) *receiver {
	hk := must[hpke.PrivateKey](t)(p.to.hpkeKey())
	return &receiver{device: p.to.Device, key: hk, now: time.Now(), seen: map[string]map[string]time.Time{},
		sender: func(number, device string, fresh bool) (api.DeviceKeys, error) {
			p.lookups++
			if fresh {
				p.freshCalls++
			}
			devs, ok := p.published[number]
			if !ok {
				return api.DeviceKeys{}, reject("the sender's number is not on Candor messaging")
			}
			for _, d := range devs {
				if d.Device == device {
					return d, nil
				}
			}
			return api.DeviceKeys{}, reject("the sending device is not one of the sender's devices")
		}}
}

func (p *pair) envelope(t *testing.T, text string) api.Envelope {
	t.Helper()
	pt := plaintext{ID: candor.NewID("msg"), From: numberA, Text: text, Sent: time.Now().UTC().Truncate(time.Millisecond)}
	envs := must[[]api.Envelope](t)(sealEnvelopes(must[ed25519.PrivateKey](t)(p.from.signKey()), p.from.Device, pt, []api.DeviceKeys{p.toPub}))
	if len(envs) != 1 {
		t.Fatalf("%d envelopes", len(envs))
	}
	return envs[0]
}

func wantRejected(t *testing.T, name string, err error, reason string) {
	t.Helper()
	var rj *rejection
	if err == nil {
		t.Errorf("%s: accepted", name)
		return
	}
	if !asRejection(err, &rj) {
		t.Errorf("%s: %v, want a rejection", name, err)
		return
	}
	if !strings.Contains(rj.reason, reason) {
		t.Errorf("%s: rejected for %q, want %q", name, rj.reason, reason)
	}
}

func asRejection(err error, target **rejection) bool {
	r, ok := err.(*rejection)
	if ok {
		*target = r
	}
	return ok
}

func TestEnvelopeAcceptedOnce(t *testing.T) {
	p := newPair(t)
	v := p.receiver(t)
	env := p.envelope(t, "hello over IP")
	if !verifyEnvelope(p.fromPub.Sign, env) {
		t.Fatal("the sender's own signature does not verify")
	}
	pt, err := v.open(env)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if pt.Text != "hello over IP" || pt.From != numberA || pt.ID != env.ID {
		t.Errorf("opened %+v", pt)
	}
	// Replay: the same envelope again, or re-delivered later.
	_, err = v.open(env)
	wantRejected(t, "replay", err, "replayed")
	// The seen ids survive the state file.
	b, _ := json.Marshal(v.seen)
	v2 := p.receiver(t)
	json.Unmarshal(b, &v2.seen)
	_, err = v2.open(env)
	wantRejected(t, "replay after restart", err, "replayed")
}

func TestEnvelopeTampered(t *testing.T) {
	p := newPair(t)
	env := p.envelope(t, "do not touch")
	for name, c := range map[string]struct {
		mod    func(e *api.Envelope)
		reason string
	}{
		"sealed byte flipped":    {func(e *api.Envelope) { e.Sealed[len(e.Sealed)/2] ^= 0x40 }, "cannot be opened"},
		"sealed tag flipped":     {func(e *api.Envelope) { e.Sealed[len(e.Sealed)-1] ^= 1 }, "cannot be opened"},
		"signature byte flipped": {func(e *api.Envelope) { e.Signature[3] ^= 1 }, "bad signature"},
		"unsigned":               {func(e *api.Envelope) { e.Signature = nil }, "unsigned"},
		"sent changed":           {func(e *api.Envelope) { e.Sent = e.Sent.Add(time.Second) }, "does not match"},
		"id changed":             {func(e *api.Envelope) { e.ID = candor.NewID("msg") }, "does not match"},
		"to another device":      {func(e *api.Envelope) { e.ToDevice = candor.NewID("dev") }, "not addressed"},
		"from an unknown device": {func(e *api.Envelope) { e.FromDevice = candor.NewID("dev") }, "not one of the sender's devices"},
		"very old":               {func(e *api.Envelope) { e.Sent = e.Sent.Add(-100 * 24 * time.Hour) }, "too old"},
	} {
		e := env
		e.Sealed, e.Signature = bytes.Clone(env.Sealed), bytes.Clone(env.Signature)
		c.mod(&e)
		_, err := p.receiver(t).open(e)
		wantRejected(t, name, err, c.reason)
	}
	// The untouched envelope still opens (the cases worked on copies).
	if _, err := p.receiver(t).open(env); err != nil {
		t.Errorf("the original envelope: %v", err)
	}
}

func TestEnvelopeWrongDeviceKey(t *testing.T) {
	p := newPair(t)
	// An impostor device signs with its own key but names A's device: the
	// key published for A's device does not verify it.
	imp := must[*messagingKeys](t)(newMessagingKeys("acc_x", p.from.Device, time.Now()))
	pt := plaintext{ID: candor.NewID("msg"), From: numberA, Text: "I am A", Sent: time.Now().UTC().Truncate(time.Millisecond)}
	envs := must[[]api.Envelope](t)(sealEnvelopes(must[ed25519.PrivateKey](t)(imp.signKey()), p.from.Device, pt, []api.DeviceKeys{p.toPub}))
	v := p.receiver(t)
	_, err := v.open(envs[0])
	wantRejected(t, "impostor key", err, "bad signature")
	if p.freshCalls != 1 {
		t.Errorf("a failed signature asked for fresh keys %d times, want 1", p.freshCalls)
	}
	// A device of another number cannot claim to be A either.
	imp2 := must[*messagingKeys](t)(newMessagingKeys("acc_y", candor.NewID("dev"), time.Now()))
	p.published[numberC] = []api.DeviceKeys{must[api.DeviceKeys](t)(imp2.public())}
	envs = must[[]api.Envelope](t)(sealEnvelopes(must[ed25519.PrivateKey](t)(imp2.signKey()), imp2.Device, pt, []api.DeviceKeys{p.toPub}))
	_, err = p.receiver(t).open(envs[0])
	wantRejected(t, "device of another number", err, "not one of the sender's devices")
	// A sender whose number is not registered.
	pt.From = "+15550000000"
	envs = must[[]api.Envelope](t)(sealEnvelopes(must[ed25519.PrivateKey](t)(p.from.signKey()), p.from.Device, pt, []api.DeviceKeys{p.toPub}))
	_, err = p.receiver(t).open(envs[0])
	wantRejected(t, "unregistered sender", err, "not on Candor messaging")
}

func TestKeyChange(t *testing.T) {
	d1 := api.DeviceKeys{Device: "dev_1", HPKE: []byte{1}, Sign: []byte{1}}
	d2 := api.DeviceKeys{Device: "dev_2", HPKE: []byte{2}, Sign: []byte{2}}
	d2b := api.DeviceKeys{Device: "dev_2", HPKE: []byte{2}, Sign: []byte{3}}
	d3 := api.DeviceKeys{Device: "dev_3", HPKE: []byte{3}, Sign: []byte{3}}
	if k := keyChange(numberB, nil, "acc_1", []api.DeviceKeys{d1}); k != nil {
		t.Errorf("first sight reported %+v", k)
	}
	before := &knownRecipient{Account: "acc_1", Devices: []api.DeviceKeys{d1, d2}}
	if k := keyChange(numberB, before, "acc_1", []api.DeviceKeys{d2, d1}); k != nil {
		t.Errorf("same keys reported %+v", k)
	}
	k := keyChange(numberB, before, "acc_1", []api.DeviceKeys{d2b, d3})
	if k == nil || len(k.Added) != 1 || k.Added[0] != "dev_3" || len(k.Changed) != 1 || k.Changed[0] != "dev_2" || len(k.Removed) != 1 || k.Removed[0] != "dev_1" || k.AccountChanged {
		t.Fatalf("change = %+v", k)
	}
	if s := k.String(); !strings.Contains(s, "new key") || !strings.Contains(s, numberB) {
		t.Errorf("notice %q", s)
	}
	if k := keyChange(numberB, before, "acc_2", []api.DeviceKeys{d1, d2}); k == nil || !k.AccountChanged {
		t.Errorf("a number moved to another account: %+v", k)
	}
}

// The phone's discovery tokens are the server's OPRF outputs on the
// documented input, computed without the server seeing the number.
func TestDiscoveryTokens(t *testing.T) {
	key, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := oprf.NewServer(oprf.SuiteRistretto255, key)
	numbers := []string{numberA, numberB}
	run, blinded := must2(t)(blindNumbers(numbers))
	for _, b := range blinded {
		for _, n := range numbers {
			if bytes.Contains(b, []byte(n)) || bytes.Contains(b, []byte(n[1:])) {
				t.Fatal("a blinded element holds the number")
			}
		}
	}
	req := &oprf.EvaluationRequest{}
	for _, b := range blinded {
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		req.Elements = append(req.Elements, e)
	}
	ev, err := srv.Evaluate(req)
	if err != nil {
		t.Fatal(err)
	}
	var evaluated [][]byte
	for _, e := range ev.Elements {
		evaluated = append(evaluated, must[[]byte](t)(e.MarshalBinaryCompress()))
	}
	toks := must[[][]byte](t)(run.finish(evaluated))
	for i, n := range numbers {
		want := must[[]byte](t)(srv.FullEvaluate([]byte("candor/discovery/v1\x00" + n)))
		if !bytes.Equal(toks[i], want) || len(toks[i]) != TokenBytes {
			t.Errorf("token of number %d differs from the server's evaluation", i)
		}
	}
	if _, err := run.finish(evaluated[:1]); err == nil {
		t.Error("a short evaluation was accepted")
	}
}

func must2(t *testing.T) func(*discoveryRun, [][]byte, error) (*discoveryRun, [][]byte) {
	return func(r *discoveryRun, b [][]byte, err error) (*discoveryRun, [][]byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return r, b
	}
}

// ---- Integration: phones against a real dev server ----

// msgTransport records a phone's requests and can rewrite the inbox the
// server answers with, standing in for a hostile server.
type msgTransport struct {
	mu    sync.Mutex
	reqs  []request
	inbox func(in *api.Inbox) // rewrites GET /v1/messages answers
}

func (tr *msgTransport) client() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, request{r.Method, r.URL.RequestURI(), r.Header.Clone(), body})
		hook := tr.inbox
		tr.mu.Unlock()
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || hook == nil || r.Method != http.MethodGet || r.URL.Path != "/v1/messages" || resp.StatusCode != http.StatusOK {
			return resp, err
		}
		var in api.Inbox
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &in); err == nil {
			hook(&in)
			b, _ = json.Marshal(in)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return resp, nil
	})}
}

func (tr *msgTransport) requests() []request {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]request(nil), tr.reqs...)
}

func (tr *msgTransport) reset() {
	tr.mu.Lock()
	tr.reqs = nil
	tr.mu.Unlock()
}

func (tr *msgTransport) setInbox(f func(in *api.Inbox)) {
	tr.mu.Lock()
	tr.inbox = f
	tr.mu.Unlock()
}

type msgPhone struct {
	*Client
	tr     *msgTransport
	number string
}

func newMsgPhone(t *testing.T, env *servertest.Env, imei, number string) *msgPhone {
	t.Helper()
	tr := &msgTransport{}
	cfg := Config{Server: env.URL, IMEI: imei, Phone: number, Country: "IN"}
	c, err := Init(filepath.Join(t.TempDir(), "phone"), cfg, WithHTTPClient(tr.client()), WithKDF(testKDF), WithKDFFloor(testFloor))
	if err != nil {
		t.Fatal(err)
	}
	return &msgPhone{c, tr, number}
}

func (p *msgPhone) activate(t *testing.T) {
	t.Helper()
	s, err := p.ActivateMessaging(t.Context(), "")
	if err != nil {
		t.Fatalf("activate messaging: %v", err)
	}
	if !s.On || s.Category != candor.Messaging {
		t.Fatalf("activation answered %+v", s)
	}
}

func (p *msgPhone) inbox(t *testing.T) InboxResult {
	t.Helper()
	res, err := p.Inbox(t.Context())
	if err != nil {
		t.Fatalf("inbox: %v", err)
	}
	return res
}

func texts(ms []ChatMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// With messaging off, sending, fetching and discovering are refused on
// the phone, and no request about messaging, no number and no contact
// leaves it.
func TestMessagingOffSendsNothing(t *testing.T) {
	env := servertest.Start(t)
	a := newMsgPhone(t, env, canaryIMEI, numberA)
	must[Contact](t)(a.Contacts().Add("Bee Thistlewood", numberB))

	// Not signed in: refused without any request.
	if _, err := a.SendMessage(t.Context(), numberB, "before sign-in"); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("send before sign-in: %v, want ConsentRequired", err)
	}
	if n := len(a.tr.requests()); n != 0 {
		t.Errorf("a phone that is not signed in sent %d requests", n)
	}

	must[Session](t)(a.Signup(t.Context(), "ma@example.invalid", canaryPassword))
	a.tr.reset()
	_, err := a.SendMessage(t.Context(), numberB, "before opt-in")
	var ce *candor.Error
	if !errorsAs(err, &ce) || ce.Kind != candor.ConsentRequired || ce.Category != candor.Messaging || !strings.Contains(ce.Message, "consent messaging on") {
		t.Errorf("send with messaging off: %v", err)
	}
	if _, err := a.Inbox(t.Context()); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("inbox with messaging off: %v", err)
	}
	if _, err := a.DiscoverContacts(t.Context()); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("discovery with messaging off: %v", err)
	}
	reqs := a.tr.requests()
	if len(reqs) == 0 {
		t.Error("no consent check was made")
	}
	for _, r := range reqs {
		if strings.Contains(r.Path, "messag") || strings.Contains(r.Path, "carrier") || r.Method != http.MethodGet {
			t.Errorf("a request about messaging while it is off: %s %s", r.Method, r.Path)
		}
		all := r.Path + "\n" + string(r.Body)
		for _, s := range []string{numberA, numberB, numberA[1:], numberB[1:], numberB[3:], "Thistlewood", "before opt-in"} {
			if strings.Contains(all, s) {
				t.Errorf("%s %s sent %q", r.Method, r.Path, s)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(a.Dir(), msgKeysFile)); err == nil {
		t.Error("messaging keys exist before opt-in")
	}
}

// A and B turn messaging on; A's message reaches both of B's phones, is
// gone from the server once delivered, and A sees the delivery receipts.
// A third phone of B's is reported to A as a new key.
func TestMessagingDelivery(t *testing.T) {
	env := servertest.Start(t)
	a := newMsgPhone(t, env, canaryIMEI, numberA)
	b1 := newMsgPhone(t, env, "356938035643817", numberB)
	b2 := newMsgPhone(t, env, "356938035643825", numberB)
	must[Contact](t)(a.Contacts().Add("Bee Thistlewood", numberB))
	must[Contact](t)(a.Contacts().Add("Cee Notonit", numberC))
	must[Session](t)(a.Signup(t.Context(), "ma@example.invalid", canaryPassword))
	must[Session](t)(b1.Signup(t.Context(), "mb@example.invalid", canaryPassword))
	must[Session](t)(b2.Login(t.Context(), "mb@example.invalid", canaryPassword))

	a.activate(t)
	// B's second phone sees messaging on for the account but has not
	// activated it: it is refused until it does.
	b1.activate(t)
	if _, err := b2.Inbox(t.Context()); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("inbox on a phone that has not activated: %v", err)
	}
	b2.activate(t)

	// Private discovery: B is found, C is not, and C's number never
	// leaves A in a recoverable form.
	a.tr.reset()
	disc := must[DiscoveryResult](t)(a.DiscoverContacts(t.Context()))
	if disc.Checked != 2 || len(disc.Found) != 1 || disc.Found[0].Number != numberB || disc.Found[0].Devices != 2 {
		t.Errorf("discovery = %+v", disc)
	}
	for _, r := range a.tr.requests() {
		for _, s := range []string{numberB, numberC, numberB[1:], numberC[1:], numberC[3:], "Thistlewood"} {
			if strings.Contains(r.Path+string(r.Body), s) {
				t.Errorf("discovery sent %q in %s %s", s, r.Method, r.Path)
			}
		}
	}

	res := must[SendResult](t)(a.SendMessage(t.Context(), numberB, "Gingerbread-lighthouse hello"))
	if res.Via != ViaCandor || res.Devices != 2 || len(res.KeyChanges) != 0 {
		t.Fatalf("send = %+v", res)
	}
	for _, b := range []*msgPhone{b1, b2} {
		in := b.inbox(t)
		if len(in.Received) != 1 || in.Received[0].Text != "Gingerbread-lighthouse hello" || in.Received[0].From != numberA || in.Received[0].Via != ViaCandor || len(in.Rejected) != 0 {
			t.Fatalf("inbox = %+v", in)
		}
		// Delivered once: gone from the server.
		if again := b.inbox(t); len(again.Received) != 0 || len(again.Rejected) != 0 {
			t.Errorf("second inbox = %+v", again)
		}
		msgs := must[[]ChatMessage](t)(b.Messages())
		if len(msgs) != 1 || msgs[0].Name != "" || msgs[0].Direction != "in" {
			t.Errorf("stored messages = %+v", msgs)
		}
	}
	in := a.inbox(t)
	if in.Receipts != 2 {
		t.Errorf("A applied %d receipts, want 2", in.Receipts)
	}
	msgs := must[[]ChatMessage](t)(a.Messages())
	if len(msgs) != 1 || msgs[0].Status != "delivered" || msgs[0].Name != "Bee Thistlewood" || msgs[0].Direction != "out" {
		t.Errorf("A's messages = %+v", msgs)
	}

	// B replies: A verifies B's device by discovery of B's number.
	must[SendResult](t)(b2.SendMessage(t.Context(), numberA, "Marzipan-harbour reply"))
	if in := a.inbox(t); len(in.Received) != 1 || in.Received[0].Text != "Marzipan-harbour reply" || in.Received[0].FromDevice != string(b2.session().Device) {
		t.Errorf("A's inbox = %+v", in)
	}

	// A third phone of B's: A is told of the new key.
	b3 := newMsgPhone(t, env, "356938035643833", numberB)
	must[Session](t)(b3.Login(t.Context(), "mb@example.invalid", canaryPassword))
	b3.activate(t)
	res = must[SendResult](t)(a.SendMessage(t.Context(), numberB, "three phones now"))
	if res.Devices != 3 || len(res.KeyChanges) != 1 || len(res.KeyChanges[0].Added) != 1 || res.KeyChanges[0].Number != numberB {
		t.Errorf("send to a new device = %+v", res)
	}
	if got := texts(b3.inbox(t).Received); len(got) != 1 || got[0] != "three phones now" {
		t.Errorf("B3 received %q", got)
	}

	// The server's disk holds neither text nor numbers.
	scanFolder(t, env.Data, "Gingerbread-lighthouse", "Marzipan-harbour", numberA, numberB, numberA[1:], numberB[1:])

	// Messaging off: the phone forgets its keys and is refused again.
	must[Consent](t)(b1.DeactivateMessaging(t.Context()))
	if _, err := os.Stat(filepath.Join(b1.Dir(), msgKeysFile)); err == nil {
		t.Error("messaging keys kept after messaging was turned off")
	}
	if _, err := b2.SendMessage(t.Context(), numberA, "after off"); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("send after messaging was turned off elsewhere: %v", err)
	}
	// A's message to B now falls back to SMS.
	if res := must[SendResult](t)(a.SendMessage(t.Context(), numberB, "after B left")); res.Via != ViaSMS {
		t.Errorf("send to a number that left = %+v", res)
	}
	// B comes back on one phone, with new keys: A is told.
	b2.activate(t)
	res = must[SendResult](t)(a.SendMessage(t.Context(), numberB, "welcome back"))
	if res.Via != ViaCandor || res.Devices != 1 || len(res.KeyChanges) != 1 {
		t.Fatalf("send after B came back = %+v", res)
	}
	if k := res.KeyChanges[0]; len(k.Changed) != 1 || string(k.Changed[0]) != string(b2.session().Device) || len(k.Removed) != 2 {
		t.Errorf("key change = %+v", k)
	}
}

// A number not on the service gets an SMS through the emulated carrier,
// and the phone says so.
func TestMessagingSMSFallback(t *testing.T) {
	env := servertest.Start(t)
	a := newMsgPhone(t, env, canaryIMEI, numberA)
	c := newMsgPhone(t, env, "356938035643825", numberC)
	must[Session](t)(a.Signup(t.Context(), "ma@example.invalid", canaryPassword))
	must[Session](t)(c.Signup(t.Context(), "mc@example.invalid", canaryPassword))
	a.activate(t)
	res := must[SendResult](t)(a.SendMessage(t.Context(), numberC, "to C who is not on the service"))
	if res.Via != ViaSMS || !res.Carrier || res.Devices != 0 {
		t.Fatalf("send = %+v", res)
	}
	got := must[[]ChatMessage](t)(c.CarrierInbox(t.Context()))
	if len(got) != 1 || got[0].Text != "to C who is not on the service" || got[0].From != numberA || got[0].Via != ViaSMS {
		t.Fatalf("C's carrier inbox = %+v", got)
	}
	if n := len(must[[]ChatMessage](t)(c.Messages())); n != 1 {
		t.Errorf("C holds %d messages, want 1", n)
	}
	msgs := must[[]ChatMessage](t)(a.Messages())
	if len(msgs) != 1 || msgs[0].Via != ViaSMS || msgs[0].Status != "sent as SMS" {
		t.Errorf("A's messages = %+v", msgs)
	}
	// The number is on no server disk.
	scanFolder(t, env.Data, numberC, numberC[1:], "to C who is not")
}

// A hostile server (or anyone between) that tampers with, strips the
// signature of, or replays an envelope gets it rejected by the recipient:
// acknowledged, reported, never stored.
func TestMessagingRejectsTampering(t *testing.T) {
	env := servertest.Start(t)
	a := newMsgPhone(t, env, canaryIMEI, numberA)
	b := newMsgPhone(t, env, "356938035643817", numberB)
	must[Session](t)(a.Signup(t.Context(), "ma@example.invalid", canaryPassword))
	must[Session](t)(b.Signup(t.Context(), "mb@example.invalid", canaryPassword))
	a.activate(t)
	b.activate(t)

	b.tr.setInbox(func(in *api.Inbox) {
		if len(in.Envelopes) > 0 {
			in.Envelopes[0].Sealed[100] ^= 1
		}
	})
	must[SendResult](t)(a.SendMessage(t.Context(), numberB, "tampered in transit"))
	in := b.inbox(t)
	if len(in.Received) != 0 || len(in.Rejected) != 1 || !strings.Contains(in.Rejected[0].Reason, "cannot be opened") {
		t.Fatalf("tampered: %+v", in)
	}
	b.tr.setInbox(nil)
	if in := b.inbox(t); len(in.Received)+len(in.Rejected) != 0 {
		t.Errorf("the rejected envelope came back: %+v", in)
	}

	// Signature flipped.
	b.tr.setInbox(func(in *api.Inbox) {
		if len(in.Envelopes) > 0 {
			in.Envelopes[0].Signature[0] ^= 1
		}
	})
	must[SendResult](t)(a.SendMessage(t.Context(), numberB, "signature broken"))
	if in := b.inbox(t); len(in.Received) != 0 || len(in.Rejected) != 1 || !strings.Contains(in.Rejected[0].Reason, "bad signature") {
		t.Errorf("bad signature: %+v", in)
	}

	// Unsigned.
	b.tr.setInbox(func(in *api.Inbox) {
		if len(in.Envelopes) > 0 {
			in.Envelopes[0].Signature = nil
		}
	})
	must[SendResult](t)(a.SendMessage(t.Context(), numberB, "signature stripped"))
	if in := b.inbox(t); len(in.Received) != 0 || len(in.Rejected) != 1 || in.Rejected[0].Reason != "unsigned" {
		t.Errorf("unsigned: %+v", in)
	}

	// A genuine message, then the same envelope replayed.
	var genuine api.Envelope
	b.tr.setInbox(func(in *api.Inbox) {
		if len(in.Envelopes) > 0 {
			genuine = in.Envelopes[0]
		}
	})
	must[SendResult](t)(a.SendMessage(t.Context(), numberB, "genuine once"))
	if got := texts(b.inbox(t).Received); len(got) != 1 || got[0] != "genuine once" {
		t.Fatalf("genuine: %q", got)
	}
	b.tr.setInbox(func(in *api.Inbox) { in.Envelopes = append(in.Envelopes, genuine) })
	in = b.inbox(t)
	if len(in.Received) != 0 || len(in.Rejected) != 1 || !strings.Contains(in.Rejected[0].Reason, "replayed") {
		t.Errorf("replay: %+v", in)
	}
	b.tr.setInbox(nil)
	if got := texts(must[[]ChatMessage](t)(b.Messages())); len(got) != 1 || got[0] != "genuine once" {
		t.Errorf("B stored %q; want only the genuine message", got)
	}
}
