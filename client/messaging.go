package client

// Cloud Messaging (promise P5): free texts between phones over IP,
// end-to-end encrypted, opt-in only.
//
// # Nothing before opt-in
//
// Until the person turns messaging on (ActivateMessaging), nothing about
// messaging leaves the phone: not its own number, not a contact's number,
// not a message. SendMessage and Inbox first refresh the account's consents
// (GET /v1/consents, which carries nothing personal) and refuse with
// Kind ConsentRequired before any request about messaging.
//
// # Activation
//
// The phone generates its messaging keys, an HPKE key (ML-KEM-768 + X25519,
// crypto/hpke) and an Ed25519 signing key, kept in DIR/messaging-keys.json;
// asks the server to text a code to its own number (POST
// /v1/messaging/verification); reads the code from the emulated carrier of
// a development server (GET /v1/carrier/sms), or takes it from the person
// (--code); and confirms it, publishing the public keys (POST
// /v1/messaging/activation).
//
// # Private discovery
//
// A number's discovery token is the 64-byte output of an OPRF
// (ristretto255, base mode, RFC 9497) on "candor/discovery/v1\x00" + the
// E.164 number: the phone blinds the input, the server evaluates its key
// blindly (POST /v1/messaging/discovery/evaluate), the phone finalizes.
// The phone then asks for every registered token in the 2-byte buckets of
// its tokens (POST /v1/messaging/discovery/match) and matches locally, so
// the server learns only buckets, each shared by many numbers. Only the
// token of a number found registered is sent in full, to fetch its keys
// (GET /v1/messaging/recipients/{token}). A number not on the service never
// reaches the server in a recoverable form: its full token, which the
// server could search the number space with, is never sent.
//
// # Messages
//
// A message's plaintext is the JSON object
//
//	{"id": "msg_…", "from": "+E164", "text": "…", "sent": "RFC 3339 time"}
//
// sealed once per recipient device with HPKE base mode (KEM
// MLKEM768-X25519, KDF HKDF-SHA256, AEAD AES-256-GCM, info
// "candor/message/v1", no AAD): Envelope.Sealed is enc || ct as returned by
// hpke.Seal. Each envelope is signed by the sending device's Ed25519 key
// over EnvelopeSignedBytes (package envelope holds this cryptography, and
// its known answers). The recipient opens the envelope, looks the
// sender's number up by discovery, and accepts it only if the envelope was
// for this device, FromDevice is one of the devices published for that
// number and its key made the signature, the plaintext repeats the
// envelope's id and time, and this (FromDevice, id) was never accepted
// before. Rejected envelopes are acknowledged (so that they do not come
// back) and reported, never stored.
//
// # State
//
//	DIR/messaging-keys.json  the device's private messaging keys (0600)
//	DIR/messages.json        messages, known correspondents' keys, seen ids
//
// # Files
//
// This file holds the vocabulary and the phone's store of messages;
// activation.go turning messaging on and off, carrier.go the emulated SMS
// radio, discovery.go private discovery and recipients' keys, send.go
// sending, inbox.go receiving and checking envelopes.

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// Messaging protocol constants. They are part of the protocol: changing one
// breaks interoperability with every other phone.
const (
	// MessageInfo is the HPKE info string envelopes are sealed with.
	MessageInfo = envelope.Info
	// discoveryDomain prefixes a number before it is blinded.
	discoveryDomain = "candor/discovery/v1\x00"

	// TokenBytes is the length of a discovery token; PrefixBytes the length
	// of the buckets the phone asks for.
	TokenBytes  = 64
	PrefixBytes = 2

	// MaxMessageBytes bounds a message's text; MaxSMSBytes a fallback SMS
	// (ten concatenated parts).
	MaxMessageBytes = 64 << 10
	MaxSMSBytes     = 1600

	msgKeysFile  = "messaging-keys.json"
	messagesFile = "messages.json"

	evaluateBatch = 100                 // numbers blinded per evaluation request
	matchBatch    = 500                 // buckets asked for per match request
	tokenMaxAge   = 24 * time.Hour      // a cached discovery token is evaluated again after this
	replayWindow  = 90 * 24 * time.Hour // envelopes older than this are refused: their ids are no longer remembered
	maxClockSkew  = 24 * time.Hour      // envelopes dated further in the future are refused
	maxInboxRound = 50                  // inbox pages fetched in one Inbox call
)

// EnvelopeSignedBytes is what an envelope's Ed25519 signature covers: a
// domain string, then the envelope's id, sending and receiving device, time
// and sealed bytes, each length-prefixed (the layout is documented with
// envelope.SignedBytes, which this is).
func EnvelopeSignedBytes(env api.Envelope) []byte { return envelope.SignedBytes(env) }

// Delivery channels of a message.
const (
	ViaCandor = "candor" // end-to-end encrypted over IP
	ViaSMS    = "sms"    // through the carrier
)

// ChatMessage is one message the phone holds: received, or sent from here.
type ChatMessage struct {
	ID string `json:"id"`
	// Direction is "in" for a received message, "out" for a sent one.
	Direction string `json:"direction"`
	// Via is "candor" (end-to-end encrypted over IP) or "sms".
	Via  string `json:"via"`
	From string `json:"from"` // E.164; this phone's own number for sent messages
	To   string `json:"to"`   // E.164; this phone's own number for received messages
	// Name is the correspondent's name in the phone's contacts, if any
	// (filled in when listing; not stored).
	Name string    `json:"name,omitempty"`
	Text string    `json:"text"`
	Time time.Time `json:"time"` // when it was sent, by the sender's clock
	// Received is when this phone accepted a received message.
	Received *time.Time `json:"received,omitempty"`
	// FromDevice is the device that sent a received Candor message.
	FromDevice string `json:"from_device,omitempty"`
	// Devices are, for a sent Candor message, the recipient's devices it
	// was sealed to and when each received it.
	Devices []DeviceDelivery `json:"devices,omitempty"`
	// Status describes a sent message's delivery: "queued", "delivered",
	// "delivered to 1 of 2 devices", "sent as SMS", "to be sent as SMS".
	Status string `json:"status,omitempty"`
}

// DeviceDelivery is a sent message's delivery to one recipient device.
type DeviceDelivery struct {
	Device    candor.DeviceID `json:"device"`
	Delivered *time.Time      `json:"delivered,omitempty"`
}

// status recomputes a sent message's Status from its deliveries.
func (m *ChatMessage) status() string {
	if m.Via == ViaSMS || m.Direction != "out" {
		return m.Status
	}
	n := 0
	for _, d := range m.Devices {
		if d.Delivered != nil {
			n++
		}
	}
	switch {
	case n == 0:
		return "queued"
	case n == len(m.Devices):
		return "delivered"
	default:
		return fmt.Sprintf("delivered to %d of %d devices", n, len(m.Devices))
	}
}

// delivered records that the message reached device at t. It reports
// false if the message was not sealed to that device, or its delivery was
// known already.
func (m *ChatMessage) delivered(device candor.DeviceID, t time.Time) bool {
	for i := range m.Devices {
		if m.Devices[i].Device == device && m.Devices[i].Delivered == nil {
			t := t.UTC()
			m.Devices[i].Delivered = &t
			return true
		}
	}
	return false
}

// KeyChange reports that a correspondent's published keys differ from the
// ones this phone saw before: a new device, a device with new keys, a
// device gone, or the number now belonging to another account. The first
// time a number is looked up is not a change.
type KeyChange struct {
	Number         string            `json:"number"`
	Account        candor.AccountID  `json:"account"`
	AccountChanged bool              `json:"account_changed,omitempty"`
	Added          []candor.DeviceID `json:"added,omitempty"`
	Changed        []candor.DeviceID `json:"changed,omitempty"`
	Removed        []candor.DeviceID `json:"removed,omitempty"`
}

// String is the "new key" notice shown to the person.
func (k KeyChange) String() string {
	var parts []string
	if k.AccountChanged {
		parts = append(parts, "the number now belongs to another account")
	}
	if n := len(k.Added); n > 0 {
		parts = append(parts, plural(n, "new device", "new devices"))
	}
	if n := len(k.Changed); n > 0 {
		parts = append(parts, plural(n, "device with a new key", "devices with new keys"))
	}
	if n := len(k.Removed); n > 0 {
		parts = append(parts, plural(n, "device gone", "devices gone"))
	}
	return fmt.Sprintf("new key: %s's messaging keys changed (%s); if you did not expect this, check with them in person", k.Number, strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Rejected is an envelope the phone refused: tampered, unsigned, replayed,
// not for this device, or from a device the sender's number does not
// publish. It was acknowledged (deleted from the server) but not stored.
type Rejected struct {
	ID         string `json:"id"`
	FromDevice string `json:"from_device"`
	Reason     string `json:"reason"`
}

// SendResult is what became of a message.
type SendResult struct {
	ID string `json:"id"`
	// Via is "candor" when the recipient is on Candor messaging and the
	// message was queued for each of their devices, "sms" when it went (or
	// is to go) through the carrier instead.
	Via string `json:"via"`
	// Devices is how many of the recipient's devices it was queued for.
	Devices int       `json:"devices,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Carrier is set when the fallback SMS was handed to the server's
	// emulated carrier (development servers). When Via is "sms" and
	// Carrier is not set, the phone's own SMS app has to send it.
	Carrier    bool        `json:"carrier,omitempty"`
	KeyChanges []KeyChange `json:"key_changes,omitempty"`
}

// InboxResult is what one Inbox call fetched.
type InboxResult struct {
	Received   []ChatMessage `json:"received"`
	Receipts   int           `json:"receipts"` // delivery receipts applied to sent messages
	Rejected   []Rejected    `json:"rejected,omitempty"`
	KeyChanges []KeyChange   `json:"key_changes,omitempty"`
}

// Discovered is a contact found on Candor messaging.
type Discovered struct {
	Name    string           `json:"name"`
	Number  string           `json:"number"`
	Account candor.AccountID `json:"account"`
	Devices int              `json:"devices"`
}

// DiscoveryResult is what DiscoverContacts found.
type DiscoveryResult struct {
	Checked    int          `json:"checked"` // distinct numbers looked up
	Found      []Discovered `json:"found"`
	KeyChanges []KeyChange  `json:"key_changes,omitempty"`
}

// messagesState is DIR/messages.json.
type messagesState struct {
	Messages []*ChatMessage `json:"messages"`
	// Seen holds, per sending device, the ids of the messages accepted
	// from it and their sent times, for replay detection; entries older
	// than replayWindow are dropped (and such old envelopes refused).
	Seen map[string]map[string]time.Time `json:"seen"`
	// Recipients are known numbers (E.164) and their keys.
	Recipients map[string]*knownRecipient `json:"recipients"`
}

func (s *messagesState) init() {
	if s.Seen == nil {
		s.Seen = map[string]map[string]time.Time{}
	}
	if s.Recipients == nil {
		s.Recipients = map[string]*knownRecipient{}
	}
}

func (s *messagesState) sent(id string) *ChatMessage {
	for _, m := range s.Messages {
		if m.ID == id && m.Direction == "out" {
			return m
		}
	}
	return nil
}

// prune forgets seen ids too old to be accepted again anyway.
func (s *messagesState) prune(now time.Time) {
	for dev, ids := range s.Seen {
		for id, t := range ids {
			if now.Sub(t) > replayWindow+maxClockSkew {
				delete(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(s.Seen, dev)
		}
	}
}

func (c *Client) loadMessages() (*messagesState, error) {
	var s messagesState
	if err := readJSON(filepath.Join(c.dir, messagesFile), &s); err != nil && !candor.Is(err, candor.NotFound) {
		return nil, err
	}
	s.init()
	return &s, nil
}

func (c *Client) saveMessages(s *messagesState) error {
	return writeJSON(filepath.Join(c.dir, messagesFile), s)
}

// Messages returns the messages the phone holds, received and sent, oldest
// first, with the correspondents' names from the contacts. It makes no
// network request.
func (c *Client) Messages() ([]ChatMessage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.loadMessages()
	if err != nil {
		return nil, err
	}
	var names map[string]string
	if cts, err := c.contactList(); err == nil {
		_, names = contactNumbers(cts, c.numberRegion())
	}
	out := make([]ChatMessage, 0, len(st.Messages))
	for _, m := range st.Messages {
		mm := *m
		if mm.Direction == "in" {
			mm.Name = names[mm.From]
		} else {
			mm.Name = names[mm.To]
		}
		out = append(out, mm)
	}
	slices.SortStableFunc(out, func(a, b ChatMessage) int { return a.Time.Compare(b.Time) })
	return out, nil
}
