package client

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Phones against a real dev server: messaging end to end.

// setInbox makes the recorder stand in for a hostile server (or anyone
// between): f rewrites every inbox the server answers with; nil stops it.
func (rec *recorder) setInbox(f func(in *api.Inbox)) {
	if f == nil {
		rec.answer.Store(nil)
		return
	}
	answer := func(r *http.Request, resp *http.Response) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/messages" {
			return
		}
		var in api.Inbox
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &in); err == nil {
			f(&in)
			b, _ = json.Marshal(in)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
	}
	rec.answer.Store(&answer)
}

type msgPhone struct {
	*Client
	tr     *recorder
	number string
}

func newMsgPhone(t *testing.T, env *servertest.Env, imei, number string) *msgPhone {
	t.Helper()
	tr := &recorder{}
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
	}
	// The numbers in any form: with and without the plus, national, grouped.
	a.tr.assertNeverSent(t, numberA, numberB, "Thistlewood", "before opt-in")
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
	a.tr.assertNeverSent(t, numberB, numberC, "Thistlewood")

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
