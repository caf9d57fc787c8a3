package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// Receiving: what waits on the server for this phone, each envelope
// checked before its message is kept.

// Inbox fetches what waits for this phone: messages, each checked (see
// receiver.open) and stored, and delivery receipts for messages sent from
// here. Everything fetched is acknowledged once stored, and so deleted
// from the server; rejected envelopes are acknowledged too, reported and
// not stored. On a development server it also takes fallback SMS from the
// emulated carrier. Messaging must be on and activated on this phone, or
// it fails with Kind ConsentRequired.
func (c *Client) Inbox(ctx context.Context) (InboxResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys, id, st, err := c.messagingSession(ctx)
	if err != nil {
		return InboxResult{}, err
	}
	in := &inbox{c: c, ctx: ctx, st: st, res: InboxResult{Received: []ChatMessage{}},
		changed: map[string]bool{}, handled: map[string]bool{}}
	st.prune(c.opts.now())
	in.v = &receiver{device: keys.Device, id: id, seen: st.Seen, sender: in.senderKeys}
	if err := in.fetch(); err != nil {
		return in.res, err
	}
	// Fallback texts from phones that found this number not on the
	// service (development servers; the number is registered already).
	got, err := c.carrierTexts(ctx)
	if err != nil && !candor.Is(err, candor.NotFound) {
		return in.res, err
	}
	in.res.Received = append(in.res.Received, got...)
	return in.res, nil
}

// inbox is one Inbox call under way.
type inbox struct {
	c   *Client
	ctx context.Context
	st  *messagesState
	v   *receiver
	res InboxResult

	changed map[string]bool // numbers whose key change is reported
	handled map[string]bool // envelope and receipt ids acknowledged in this call
}

// fetch takes pages of the inbox until one brings nothing new (at most
// maxInboxRound).
func (in *inbox) fetch() error {
	for range maxInboxRound {
		fresh, err := in.page()
		if err != nil || fresh == 0 {
			return err
		}
	}
	return nil
}

// page takes one page of the inbox, stores what it accepts and then
// acknowledges what it handled, and returns how many of its envelopes and
// receipts were new. An envelope whose sender could not be looked up is
// neither stored nor acknowledged, and the lookup's error is returned once
// the rest is.
func (in *inbox) page() (int, error) {
	var page api.Inbox
	if err := in.c.call(in.ctx, http.MethodGet, "/messages", nil, &page); err != nil {
		in.c.saveMessages(in.st)
		return 0, err
	}
	var ack api.Ack
	fresh, lookupErr := in.envelopes(page.Envelopes, &ack)
	fresh += in.receipts(page.Receipts, &ack)
	// Stored before acknowledged: a crash in between brings the
	// envelopes back, to be refused as replays, never lost.
	if err := in.c.saveMessages(in.st); err != nil {
		return fresh, err
	}
	if len(ack.Envelopes)+len(ack.Receipts) > 0 {
		if err := in.c.call(in.ctx, http.MethodPost, "/messages/ack", ack, nil); err != nil {
			return fresh, err
		}
	}
	return fresh, lookupErr
}

// envelopes checks each envelope not handled before, keeps its message or
// records its rejection, and adds it to ack. The last lookup error is
// returned; its envelope is left for next time.
func (in *inbox) envelopes(envs []api.Envelope, ack *api.Ack) (fresh int, lookupErr error) {
	for _, env := range envs {
		key := "e " + env.FromDevice + " " + env.ID
		if in.handled[key] {
			continue // acknowledged in an earlier round
		}
		fresh++
		if err := in.receive(env); err != nil {
			lookupErr = err // not acknowledged: checked again next time
			continue
		}
		in.handled[key] = true
		if env.ID != "" && !slices.Contains(ack.Envelopes, env.ID) {
			ack.Envelopes = append(ack.Envelopes, env.ID)
		}
	}
	return fresh, lookupErr
}

// receive checks one envelope and keeps its message, or records why it was
// rejected. An error means it could not be checked now.
func (in *inbox) receive(env api.Envelope) error {
	in.v.now = in.c.opts.now()
	m, err := in.v.open(env)
	var rj *rejection
	switch {
	case err == nil:
		now := in.c.opts.now().UTC()
		msg := &ChatMessage{ID: m.ID, Direction: "in", Via: ViaCandor, From: m.From, To: in.c.dev.Phone, Text: m.Text, Time: m.Sent, Received: &now, FromDevice: env.FromDevice}
		in.st.Messages = append(in.st.Messages, msg)
		in.res.Received = append(in.res.Received, *msg)
	case errors.As(err, &rj):
		in.res.Rejected = append(in.res.Rejected, Rejected{ID: env.ID, FromDevice: env.FromDevice, Reason: rj.reason})
	default:
		return err
	}
	return nil
}

// receipts applies each delivery receipt not handled before to the sent
// message it is for, and adds it to ack. It returns how many were new.
func (in *inbox) receipts(rcs []api.Receipt, ack *api.Ack) (fresh int) {
	for _, rc := range rcs {
		key := "r " + rc.ID + " " + rc.ToDevice
		if in.handled[key] {
			continue
		}
		fresh++
		in.handled[key] = true
		if m := in.st.sent(rc.ID); m != nil {
			if m.delivered(candor.DeviceID(rc.ToDevice), rc.Time) {
				in.res.Receipts++
			}
			m.Status = m.status()
		}
		if !slices.Contains(ack.Receipts, rc.ID) {
			ack.Receipts = append(ack.Receipts, rc.ID)
		}
	}
	return fresh
}

// senderKeys returns the published keys of a sender's device (see the type
// senderKeys): from the phone's record of the number when it has the
// device, else (or when fresh) asking the server again.
func (in *inbox) senderKeys(number, device string, fresh bool) (api.DeviceKeys, error) {
	r := in.st.Recipients[number]
	if fresh || r == nil || !r.Registered || r.device(device) == nil {
		var err error
		if r, err = in.recipient(number, fresh && r != nil && r.Registered && len(r.Token) == TokenBytes); err != nil {
			return api.DeviceKeys{}, err
		}
	}
	d := r.device(device)
	if d == nil {
		return api.DeviceKeys{}, reject("the sending device is not one of the sender's devices")
	}
	return *d, nil
}

// recipient looks a sender's number up again: its keys fetched by its
// known registered token when refetch is set, else found by discovery. A
// change of keys is reported once per number and call.
func (in *inbox) recipient(number string, refetch bool) (*knownRecipient, error) {
	lookup := in.c.lookup
	if refetch {
		lookup = in.c.fetchRecipient
	}
	r, ch, ok, err := lookup(in.ctx, in.st, number)
	if err != nil {
		return nil, err
	}
	if ch != nil && !in.changed[number] {
		in.changed[number] = true
		in.res.KeyChanges = append(in.res.KeyChanges, *ch)
	}
	if !ok {
		return nil, reject("the sender's number is not on Candor messaging")
	}
	return r, nil
}

// rejection is why an envelope was refused.
type rejection struct{ reason string }

func (r *rejection) Error() string { return r.reason }

func reject(format string, args ...any) error { return &rejection{fmt.Sprintf(format, args...)} }

// senderKeys returns the published keys of a number's device; fresh asks
// the server again rather than the phone's record. It fails with a
// *rejection when the number or device is not registered, and with another
// error when the lookup itself failed (the envelope is kept for later).
type senderKeys func(number, device string, fresh bool) (api.DeviceKeys, error)

// receiver checks envelopes for one device.
type receiver struct {
	device string
	id     *envelope.Identity
	now    time.Time
	seen   map[string]map[string]time.Time
	sender senderKeys
}

// open checks one envelope and returns its message: addressed to this
// device, signed, within the replay window, opened, its message well
// formed and repeating the envelope's id and time, signed by a device the
// sender's number publishes, and never accepted before. A *rejection error
// means the envelope must be refused; any other error that it could not be
// checked now.
func (v *receiver) open(env api.Envelope) (envelope.Message, error) {
	if err := v.checkEnvelope(env); err != nil {
		return envelope.Message{}, err
	}
	m, err := v.id.OpenMessage(env)
	if err != nil {
		return m, reject("%v", err)
	}
	if !phonePattern.MatchString(m.From) || !utf8.ValidString(m.Text) || len(m.Text) > MaxMessageBytes {
		return m, reject("%v", envelope.ErrMalformed)
	}
	if err := v.checkSigner(m.From, env); err != nil {
		return m, err
	}
	if _, dup := v.seen[env.FromDevice][env.ID]; dup {
		return m, reject("replayed: this message was already received")
	}
	if v.seen[env.FromDevice] == nil {
		v.seen[env.FromDevice] = map[string]time.Time{}
	}
	v.seen[env.FromDevice][env.ID] = env.Sent
	return m, nil
}

// checkEnvelope checks what can be checked before opening env.
func (v *receiver) checkEnvelope(env api.Envelope) error {
	switch {
	case len(env.Signature) == 0:
		return reject("unsigned")
	case env.ToDevice != v.device:
		return reject("not addressed to this device")
	case env.ID == "" || env.FromDevice == "":
		return reject("incomplete envelope")
	case env.Sent.Before(v.now.Add(-replayWindow)):
		return reject("too old to check for replay")
	case env.Sent.After(v.now.Add(maxClockSkew)):
		return reject("dated in the future")
	}
	return nil
}

// checkSigner checks that env was signed by its sending device's key as
// the number from publishes it, asking the server again when the phone's
// record of the key does not verify (it may predate a new key).
func (v *receiver) checkSigner(from string, env api.Envelope) error {
	keys, err := v.sender(from, env.FromDevice, false)
	if err != nil {
		return err
	}
	if envelope.Verify(keys.Sign, env) {
		return nil
	}
	fresh, err := v.sender(from, env.FromDevice, true)
	if err != nil {
		return err
	}
	if bytes.Equal(fresh.Sign, keys.Sign) || !envelope.Verify(fresh.Sign, env) {
		return reject("bad signature: tampered, or not signed by the sender's device")
	}
	return nil
}
