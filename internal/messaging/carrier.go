package messaging

import (
	"context"
	"sync"
	"time"

	"github.com/candorcloud/candor/api"
)

// Gateway sends an SMS through a carrier: the verification code when a
// phone turns messaging on. A real provider implements it in a few lines
// (an HTTP call to its API); it must not log the number or the text.
type Gateway interface {
	SendSMS(ctx context.Context, to, text string) error
}

// Carrier is the emulated carrier of `serve --dev`: it delivers SMS
// between emulated phones, in memory only (nothing on disk, nothing in
// logs), and forgets each message once its phone has fetched it, or after
// an hour.
type Carrier struct {
	mu    sync.Mutex
	boxes map[string][]carried
}

type carried struct {
	sms api.CarrierSMS
	at  time.Time
}

// NewCarrier returns an empty emulated carrier.
func NewCarrier() *Carrier { return &Carrier{boxes: map[string][]carried{}} }

// SendSMS delivers text to number's box.
func (c *Carrier) SendSMS(_ context.Context, to, text string) error {
	return c.Deliver(api.CarrierSMS{To: to, From: "Candor", Text: text})
}

// Deliver puts an SMS in its recipient's box.
func (c *Carrier) Deliver(sms api.CarrierSMS) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for n, box := range c.boxes { // forget what nobody fetched for an hour
		kept := box[:0]
		for _, m := range box {
			if now.Sub(m.at) < time.Hour {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			delete(c.boxes, n)
		} else {
			c.boxes[n] = kept
		}
	}
	if len(c.boxes[sms.To]) >= 100 {
		c.boxes[sms.To] = c.boxes[sms.To][1:]
	}
	c.boxes[sms.To] = append(c.boxes[sms.To], carried{sms, now})
	return nil
}

// Take returns and forgets what waits for number.
func (c *Carrier) Take(number string) []api.CarrierSMS {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]api.CarrierSMS, 0, len(c.boxes[number]))
	for _, m := range c.boxes[number] {
		out = append(out, m.sms)
	}
	delete(c.boxes, number)
	return out
}
