package client

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// The emulated carrier of a development server (`serve --dev`) stands in
// for the phone's SMS radio: it holds the texts sent to this phone's
// number, the verification code at activation and fallback texts from
// phones that found the number not on Candor messaging.

// codePattern finds a 6-digit verification code in an SMS.
var codePattern = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)`)

// verificationCode returns the code m carries if it is a verification
// SMS: a 6-digit code from a sender that is not a phone number.
func verificationCode(m api.CarrierSMS) (string, bool) {
	got := codePattern.FindStringSubmatch(m.Text)
	if got == nil || phonePattern.MatchString(m.From) {
		return "", false
	}
	return got[1], true
}

// codeFromCarrier waits briefly for the verification SMS at the emulated
// carrier. Other texts found there are kept as received SMS.
func (c *Client) codeFromCarrier(ctx context.Context) (string, error) {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		msgs, err := c.fetchCarrier(ctx)
		if candor.Is(err, candor.NotFound) {
			return "", errNeedCode
		}
		if err != nil {
			return "", err
		}
		code := ""
		var others []api.CarrierSMS
		for _, m := range msgs {
			if got, ok := verificationCode(m); ok {
				code = got // the latest code wins
				continue
			}
			others = append(others, m)
		}
		if _, err := c.keepCarrierSMS(others); err != nil {
			return "", err
		}
		if code != "" {
			return code, nil
		}
		if attempt >= 12 {
			return "", candor.E(candor.Unavailable, "the verification SMS has not arrived: try again, or run 'consent messaging on --code CODE' with the code from the SMS")
		}
		select {
		case <-ctx.Done():
			return "", candor.Wrap(candor.Unavailable, "the request was cancelled", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// fetchCarrier takes what the emulated carrier holds for this phone's
// number. NotFound: the server has no emulated carrier.
func (c *Client) fetchCarrier(ctx context.Context) ([]api.CarrierSMS, error) {
	var in api.CarrierInbox
	if err := c.call(ctx, http.MethodGet, "/carrier/sms?to="+url.QueryEscape(c.dev.Phone), nil, &in); err != nil {
		return nil, err
	}
	return in.Messages, nil
}

// carrierTexts takes the texts the emulated carrier holds for this phone,
// stores them as received SMS and returns them; stale verification codes
// are dropped. NotFound: the server has no emulated carrier.
func (c *Client) carrierTexts(ctx context.Context) ([]ChatMessage, error) {
	msgs, err := c.fetchCarrier(ctx)
	if err != nil {
		return nil, err
	}
	var keep []api.CarrierSMS
	for _, m := range msgs {
		if _, code := verificationCode(m); !code {
			keep = append(keep, m)
		}
	}
	return c.keepCarrierSMS(keep)
}

// keepCarrierSMS stores texts received from the carrier as messages.
func (c *Client) keepCarrierSMS(msgs []api.CarrierSMS) ([]ChatMessage, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	st, err := c.loadMessages()
	if err != nil {
		return nil, err
	}
	now := c.opts.now().UTC()
	var out []ChatMessage
	for _, m := range msgs {
		if !utf8.ValidString(m.Text) || len(m.Text) > MaxMessageBytes {
			continue
		}
		msg := &ChatMessage{ID: candor.NewID("sms"), Direction: "in", Via: ViaSMS, From: m.From, To: c.dev.Phone, Text: m.Text, Time: now, Received: &now}
		st.Messages = append(st.Messages, msg)
		out = append(out, *msg)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, c.saveMessages(st)
}

// CarrierInbox is this phone's SMS radio in development: it takes the texts
// the emulated carrier of a `serve --dev` server holds for this phone's
// number (fallback texts from phones that found it not on Candor
// messaging), stores them as received SMS and returns them. It sends the
// phone's own number to that carrier, as a phone's radio does to its
// carrier, and is only ever called on the person's request. Against a
// server without an emulated carrier it fails with NotFound.
func (c *Client) CarrierInbox(ctx context.Context) ([]ChatMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, err := c.carrierTexts(ctx)
	if candor.Is(err, candor.NotFound) {
		return nil, candor.E(candor.NotFound, "this server has no emulated carrier (only 'serve --dev' has one)")
	}
	return got, err
}
