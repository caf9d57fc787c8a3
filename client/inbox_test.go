package client

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// Pure tests of the receiver: what an inbox accepts and refuses, without
// a server. The cryptography itself is tested, with known answers, in
// package envelope.

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
	return &receiver{device: p.to.Device, id: identityOf(t, p.to), now: time.Now(), seen: map[string]map[string]time.Time{},
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
	m := envelope.Message{ID: candor.NewID("msg"), From: numberA, Text: text, Sent: time.Now().UTC().Truncate(time.Millisecond)}
	envs := must[[]api.Envelope](t)(identityOf(t, p.from).SealMessage(p.from.Device, m, []api.DeviceKeys{p.toPub}))
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
	if !envelope.Verify(p.fromPub.Sign, env) {
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
	pt := envelope.Message{ID: candor.NewID("msg"), From: numberA, Text: "I am A", Sent: time.Now().UTC().Truncate(time.Millisecond)}
	envs := must[[]api.Envelope](t)(identityOf(t, imp).SealMessage(p.from.Device, pt, []api.DeviceKeys{p.toPub}))
	v := p.receiver(t)
	_, err := v.open(envs[0])
	wantRejected(t, "impostor key", err, "bad signature")
	if p.freshCalls != 1 {
		t.Errorf("a failed signature asked for fresh keys %d times, want 1", p.freshCalls)
	}
	// A device of another number cannot claim to be A either.
	imp2 := must[*messagingKeys](t)(newMessagingKeys("acc_y", candor.NewID("dev"), time.Now()))
	p.published[numberC] = []api.DeviceKeys{must[api.DeviceKeys](t)(imp2.public())}
	envs = must[[]api.Envelope](t)(identityOf(t, imp2).SealMessage(imp2.Device, pt, []api.DeviceKeys{p.toPub}))
	_, err = p.receiver(t).open(envs[0])
	wantRejected(t, "device of another number", err, "not one of the sender's devices")
	// A sender whose number is not registered.
	pt.From = "+15550000000"
	envs = must[[]api.Envelope](t)(identityOf(t, p.from).SealMessage(p.from.Device, pt, []api.DeviceKeys{p.toPub}))
	_, err = p.receiver(t).open(envs[0])
	wantRejected(t, "unregistered sender", err, "not on Candor messaging")
}

func identityOf(t *testing.T, k *messagingKeys) *envelope.Identity {
	t.Helper()
	return must[*envelope.Identity](t)(k.identity())
}

// A device's keys survive their state file: what is sealed to the keys it
// publishes opens with the keys read back, and with no other device's.
func TestMessagingKeysSurviveTheirFile(t *testing.T) {
	k := must[*messagingKeys](t)(newMessagingKeys("acc_x", "dev_x", time.Now()))
	pub := must[api.DeviceKeys](t)(k.public())
	if pub.Device != "dev_x" || envelope.CheckPublicKeys(pub.HPKE, pub.Sign) != nil {
		t.Fatalf("published keys %+v", pub)
	}
	sealed := must[[]byte](t)(envelope.Seal(pub.HPKE, []byte("Gingerbread-lighthouse hello")))
	var k2 messagingKeys
	b, _ := json.Marshal(k)
	json.Unmarshal(b, &k2)
	if got, err := identityOf(t, &k2).Open(sealed); err != nil || string(got) != "Gingerbread-lighthouse hello" {
		t.Fatalf("opened with the keys read back: %q, %v", got, err)
	}
	other := must[*messagingKeys](t)(newMessagingKeys("acc_x", "dev_y", time.Now()))
	if _, err := identityOf(t, other).Open(sealed); err == nil {
		t.Error("another device's key opened the envelope")
	}
	k2.Sign = k2.Sign[:10]
	if _, err := k2.identity(); !candor.Is(err, candor.Integrity) {
		t.Errorf("damaged keys: %v", err)
	}
	if MessageInfo != "candor/message/v1" || !bytes.Equal(EnvelopeSignedBytes(api.Envelope{ID: "x"}), envelope.SignedBytes(api.Envelope{ID: "x"})) {
		t.Error("the SDK's protocol constants differ from the envelopes'")
	}
}
