package envelope

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Message is what a message's envelopes seal, as JSON.
type Message struct {
	ID   string    `json:"id"`
	From string    `json:"from"` // the sender's number, E.164
	Text string    `json:"text"`
	Sent time.Time `json:"sent"`
}

// Why OpenMessage refused an envelope. The texts are the reasons the
// recipient reports.
var (
	ErrCannotOpen = errors.New("cannot be opened: tampered, or sealed to another key")
	ErrMalformed  = errors.New("malformed message")
	ErrMismatch   = errors.New("the message does not match its envelope")
)

// SealMessage makes one envelope of m per device of the recipient, from
// the device fromDevice, each sealed to the device's KEM key and signed by
// id. A device key that is malformed is Invalid.
func (id *Identity) SealMessage(fromDevice string, m Message, devices []api.DeviceKeys) ([]api.Envelope, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode the message", err)
	}
	out := make([]api.Envelope, 0, len(devices))
	for _, d := range devices {
		sealed, err := Seal(d.HPKE, body)
		if err != nil {
			return nil, err
		}
		env := api.Envelope{ID: m.ID, FromDevice: fromDevice, ToDevice: d.Device, Sent: m.Sent, Sealed: sealed}
		id.Sign(&env)
		out = append(out, env)
	}
	return out, nil
}

// OpenMessage opens env and returns its message, which must repeat the
// envelope's id and time. It fails with ErrCannotOpen, ErrMalformed or
// ErrMismatch. It does not check the signature (see Verify) or the sender.
func (id *Identity) OpenMessage(env api.Envelope) (Message, error) {
	var m Message
	body, err := id.Open(env.Sealed)
	if err != nil {
		return m, ErrCannotOpen
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, ErrMalformed
	}
	if m.ID != env.ID || !m.Sent.Equal(env.Sent) {
		return m, ErrMismatch
	}
	return m, nil
}
