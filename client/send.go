package client

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// SendMessage sends text to a phone number (E.164).
//
// Messaging must be on for the account and activated on this phone, or it
// fails with Kind ConsentRequired before anything about the message or the
// number is sent. If the number is on Candor messaging, the message is
// sealed to each of its devices, signed, and queued (Via "candor"). If not,
// it falls back to SMS (Via "sms"): through the emulated carrier of a
// development server (Carrier set), or, elsewhere, left to the phone's own
// SMS app. A change of the recipient's keys since this phone last saw them
// is reported in KeyChanges.
func (c *Client) SendMessage(ctx context.Context, to, text string) (SendResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	to = strings.TrimSpace(to)
	if err := checkOutgoing(to, text); err != nil {
		return SendResult{}, err
	}
	keys, id, st, err := c.messagingSession(ctx)
	if err != nil {
		return SendResult{}, err
	}
	res := SendResult{ID: candor.NewID("msg")}
	msg := &ChatMessage{ID: res.ID, Direction: "out", From: c.dev.Phone, To: to, Text: text, Time: c.opts.now().UTC().Truncate(time.Millisecond)}
	r, change, ok, err := c.lookup(ctx, st, to)
	if err == nil {
		if change != nil {
			res.KeyChanges = append(res.KeyChanges, *change)
		}
		if ok {
			err = c.sendSealed(ctx, st, id, keys.Device, r, &res, msg)
		} else {
			err = c.sendSMS(ctx, &res, msg)
		}
	}
	if err != nil {
		c.saveMessages(st) // what was learnt of the recipient is kept
		return SendResult{}, err
	}
	st.Messages = append(st.Messages, msg)
	return res, c.saveMessages(st)
}

// checkOutgoing checks a message before anything about it is sent.
func checkOutgoing(to, text string) error {
	switch {
	case !phonePattern.MatchString(to):
		return candor.E(candor.Invalid, "the recipient's number must be in E.164 form, like +919812345678")
	case text == "" || !utf8.ValidString(text):
		return candor.E(candor.Invalid, "a message needs some UTF-8 text")
	case len(text) > MaxMessageBytes:
		return candor.Errorf(candor.TooLarge, "a message is at most %d bytes", MaxMessageBytes)
	}
	return nil
}

// sendSMS sends msg as an SMS, for a number not on Candor messaging:
// through the emulated carrier of a development server, or, against a
// server without one, left to the phone's own SMS app.
func (c *Client) sendSMS(ctx context.Context, res *SendResult, msg *ChatMessage) error {
	if len(msg.Text) > MaxSMSBytes {
		return candor.Errorf(candor.TooLarge, "not on Candor messaging, and too long for an SMS (at most %d bytes): shorten it", MaxSMSBytes)
	}
	res.Via, msg.Via = ViaSMS, ViaSMS
	err := c.call(ctx, http.MethodPost, "/carrier/sms", api.CarrierSMS{To: msg.To, From: msg.From, Text: msg.Text}, nil)
	switch {
	case err == nil:
		res.Carrier, msg.Status = true, "sent as SMS"
	case candor.Is(err, candor.NotFound):
		msg.Status = "to be sent as SMS by the phone's SMS app"
	default:
		return err
	}
	return nil
}

// sendSealed seals msg to each of the recipient r's devices, signed by id
// as device, and queues the envelopes. If the server refuses them because
// the recipient's devices changed since the lookup, it looks the recipient
// up once more and tries again.
func (c *Client) sendSealed(ctx context.Context, st *messagesState, id *envelope.Identity, device string, r *knownRecipient, res *SendResult, msg *ChatMessage) error {
	m := envelope.Message{ID: msg.ID, From: msg.From, Text: msg.Text, Sent: msg.Time}
	var sent api.Sent
	for attempt := 0; ; attempt++ {
		envs, err := id.SealMessage(device, m, r.Devices)
		if err != nil {
			return err
		}
		err = c.call(ctx, http.MethodPost, "/messages", api.Send{To: r.Account, Envelopes: envs}, &sent)
		if err == nil {
			break
		}
		if attempt > 0 || !(candor.Is(err, candor.Conflict) || candor.Is(err, candor.Invalid)) {
			return err
		}
		if r, err = c.recipientAgain(ctx, st, msg.To, res); err != nil {
			return err
		}
	}
	res.Via, msg.Via = ViaCandor, ViaCandor
	res.Devices, res.Expires = len(r.Devices), sent.Expires
	if sent.Queued > 0 {
		res.Devices = sent.Queued
	}
	for _, d := range r.Devices {
		msg.Devices = append(msg.Devices, DeviceDelivery{Device: candor.DeviceID(d.Device)})
	}
	msg.Status = msg.status()
	return nil
}

// recipientAgain fetches the keys of a recipient whose devices changed
// while a message was being sent, reporting the change in res. A recipient
// who left Candor messaging meanwhile is a Conflict.
func (c *Client) recipientAgain(ctx context.Context, st *messagesState, number string, res *SendResult) (*knownRecipient, error) {
	r, ch, ok, err := c.fetchRecipient(ctx, st, number)
	if err == nil && !ok {
		err = candor.E(candor.Conflict, "the recipient left Candor messaging while the message was being sent: send it again")
	}
	if err != nil {
		return nil, err
	}
	if ch != nil {
		res.KeyChanges = append(res.KeyChanges, *ch)
	}
	return r, nil
}
