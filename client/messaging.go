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
// over EnvelopeSignedBytes. The recipient opens the envelope, looks the
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

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Messaging protocol constants. They are part of the protocol: changing one
// breaks interoperability with every other phone.
const (
	// MessageInfo is the HPKE info string envelopes are sealed with.
	MessageInfo = "candor/message/v1"
	// discoveryDomain prefixes a number before it is blinded.
	discoveryDomain = "candor/discovery/v1\x00"
	// signatureDomain starts the bytes an envelope's signature covers.
	signatureDomain = "candor/message-signature/v1\x00"

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

// messageKEM is the KEM of the envelopes: ML-KEM-768 + X25519 (X-Wing).
func messageKEM() hpke.KEM { return hpke.MLKEM768X25519() }

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

// ---- State ----

// messagingKeys are this device's private messaging keys. They never leave
// the phone; their public halves are published at activation.
type messagingKeys struct {
	Account string    `json:"account"`
	Device  string    `json:"device"`
	HPKE    []byte    `json:"hpke_private"` // the KEM's serialized private key (a seed)
	Sign    []byte    `json:"sign_private"` // the Ed25519 seed
	Created time.Time `json:"created"`
	// Activated is when the server accepted the keys; nil before.
	Activated *time.Time `json:"activated,omitempty"`
}

func newMessagingKeys(account, device string, now time.Time) (*messagingKeys, error) {
	k, err := messageKEM().GenerateKey()
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot generate the messaging key", err)
	}
	priv, err := k.Bytes()
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode the messaging key", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	return &messagingKeys{Account: account, Device: device, HPKE: priv, Sign: seed, Created: now.UTC().Truncate(time.Second)}, nil
}

func (k *messagingKeys) hpkeKey() (hpke.PrivateKey, error) {
	p, err := messageKEM().NewPrivateKey(k.HPKE)
	if err != nil {
		return nil, candor.Wrap(candor.Integrity, "the phone's messaging key is damaged", err)
	}
	return p, nil
}

func (k *messagingKeys) signKey() (ed25519.PrivateKey, error) {
	if len(k.Sign) != ed25519.SeedSize {
		return nil, candor.E(candor.Integrity, "the phone's signing key is damaged")
	}
	return ed25519.NewKeyFromSeed(k.Sign), nil
}

// public returns the keys to publish.
func (k *messagingKeys) public() (api.DeviceKeys, error) {
	hk, err := k.hpkeKey()
	if err != nil {
		return api.DeviceKeys{}, err
	}
	sk, err := k.signKey()
	if err != nil {
		return api.DeviceKeys{}, err
	}
	return api.DeviceKeys{
		Device:  k.Device,
		HPKE:    hk.PublicKey().Bytes(),
		Sign:    sk.Public().(ed25519.PublicKey),
		Created: k.Created,
	}, nil
}

// knownRecipient is what the phone knows of a number: its discovery token,
// whether it was registered when last looked up, and the account and
// device keys it last saw (kept after the number leaves, so that keys it
// comes back with are noticed as new).
type knownRecipient struct {
	Token      []byte           `json:"token,omitempty"`
	Evaluated  time.Time        `json:"evaluated,omitzero"`
	Registered bool             `json:"registered,omitempty"`
	Account    string           `json:"account,omitempty"`
	Devices    []api.DeviceKeys `json:"devices,omitempty"`
	Checked    time.Time        `json:"checked,omitzero"`
}

func (r *knownRecipient) device(id string) *api.DeviceKeys {
	for i := range r.Devices {
		if r.Devices[i].Device == id {
			return &r.Devices[i]
		}
	}
	return nil
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

func (c *Client) loadMessagingKeys() (*messagingKeys, error) {
	var k messagingKeys
	if err := readJSON(filepath.Join(c.dir, msgKeysFile), &k); err != nil {
		if candor.Is(err, candor.NotFound) {
			return nil, nil
		}
		return nil, err
	}
	return &k, nil
}

func (c *Client) saveMessagingKeys(k *messagingKeys) error {
	return writeJSON(filepath.Join(c.dir, msgKeysFile), k)
}

// forgetMessagingKeys deletes the device's messaging keys: messaging is off,
// and the server has deleted their public halves.
func (c *Client) forgetMessagingKeys() error {
	if err := os.Remove(filepath.Join(c.dir, msgKeysFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return candor.Wrap(candor.Internal, "cannot delete the messaging keys", err)
	}
	return nil
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

// ---- Activation ----

var (
	// codePattern finds a 6-digit verification code in an SMS.
	codePattern = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)`)
	// codeInput is what a person may type as a code.
	codeInput = regexp.MustCompile(`^[0-9]{4,10}$`)
)

// errNeedCode asks the person for the verification code.
var errNeedCode = candor.E(candor.Invalid, "a verification code was sent by SMS to this phone's number, and this server has no emulated carrier to read it from: run 'consent messaging on --code CODE' with the code from the SMS")

// ActivateMessaging turns messaging on for this phone, the person having
// opted in: it verifies the phone's own number and publishes this device's
// messaging keys.
//
// With code empty, it asks the server to text a code to the number and
// reads it from the emulated carrier of a development server; against a
// server without one it fails with Invalid, asking for the code: call
// again with the code from the SMS (no new code is requested then).
//
// The keys are generated on first activation and kept while messaging
// stays on for this account and device; turning messaging off deletes
// them, and the next activation makes new ones.
func (c *Client) ActivateMessaging(ctx context.Context, code string) (Consent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Consent{}, errNotSignedIn
	}
	code = strings.TrimSpace(code)
	if code != "" && !codeInput.MatchString(code) {
		return Consent{}, candor.E(candor.Invalid, "the verification code is the digits of the SMS, like 123456")
	}
	keys, err := c.loadMessagingKeys()
	if err != nil {
		return Consent{}, err
	}
	if keys == nil || keys.Account != c.sess.Account || keys.Device != c.sess.Device {
		if keys, err = newMessagingKeys(c.sess.Account, c.sess.Device, c.opts.now()); err != nil {
			return Consent{}, err
		}
		// Stored before anything is published, so that the private half
		// of any key the server holds is on the phone.
		if err := c.saveMessagingKeys(keys); err != nil {
			return Consent{}, err
		}
	}
	pub, err := keys.public()
	if err != nil {
		return Consent{}, err
	}
	phone := c.dev.Phone
	if code == "" {
		if err := c.call(ctx, http.MethodPost, "/messaging/verification", api.VerificationRequest{Phone: phone}, nil); err != nil {
			return Consent{}, err
		}
		if code, err = c.codeFromCarrier(ctx); err != nil {
			return Consent{}, err
		}
	}
	var got api.Consent
	if err := c.call(ctx, http.MethodPost, "/messaging/activation", api.Activation{Phone: phone, Code: code, Keys: pub}, &got); err != nil {
		return Consent{}, err
	}
	if got.Category != "" && got.Category != string(candor.Messaging) {
		return Consent{}, candor.E(candor.Internal, "the server answered for another category")
	}
	if !got.On {
		return Consent{}, candor.E(candor.Internal, "the server did not turn messaging on")
	}
	now := c.opts.now().UTC()
	keys.Activated = &now
	if err := c.saveMessagingKeys(keys); err != nil {
		return Consent{}, err
	}
	e := entryOf(got)
	c.consents.set(candor.Messaging, e)
	if err := c.saveConsents(); err != nil {
		return Consent{}, err
	}
	return Consent{Category: candor.Messaging, On: e.On, Epoch: e.Epoch, Since: e.Since}, nil
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
			if got := codePattern.FindStringSubmatch(m.Text); got != nil && !phonePattern.MatchString(m.From) {
				code = got[1] // the latest code wins
				continue
			}
			others = append(others, m)
		}
		if len(others) > 0 {
			if _, err := c.keepCarrierSMS(others); err != nil {
				return "", err
			}
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

// keepCarrierSMS stores texts received from the carrier as messages.
func (c *Client) keepCarrierSMS(msgs []api.CarrierSMS) ([]ChatMessage, error) {
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
	msgs, err := c.fetchCarrier(ctx)
	if candor.Is(err, candor.NotFound) {
		return nil, candor.E(candor.NotFound, "this server has no emulated carrier (only 'serve --dev' has one)")
	}
	if err != nil {
		return nil, err
	}
	var keep []api.CarrierSMS
	for _, m := range msgs {
		if codePattern.MatchString(m.Text) && !phonePattern.MatchString(m.From) {
			continue // a stale verification code
		}
		keep = append(keep, m)
	}
	return c.keepCarrierSMS(keep)
}

// DeactivateMessaging turns messaging off for the account (every device):
// the server deletes the registered number, every device's keys and every
// queued message. This phone deletes its private messaging keys and keeps
// the messages it holds.
func (c *Client) DeactivateMessaging(ctx context.Context) (Consent, error) {
	s, err := c.setConsent(ctx, candor.Messaging, false)
	if err != nil {
		return s, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return s, c.forgetMessagingKeys()
}

// messagingReady checks, before anything about messaging is sent, that the
// phone is signed in, that messaging is on for the account (asking the
// server: a request with nothing personal) and that this device activated
// it. It returns the device's keys.
func (c *Client) messagingReady(ctx context.Context) (*messagingKeys, error) {
	if c.sess == nil {
		if !c.consents.on(candor.Messaging) {
			return nil, candor.ErrConsent(candor.Messaging)
		}
		return nil, errNotSignedIn
	}
	if err := c.refreshConsents(ctx); err != nil {
		return nil, err
	}
	keys, err := c.loadMessagingKeys()
	if err != nil {
		return nil, err
	}
	if !c.consents.on(candor.Messaging) {
		if keys != nil { // turned off, here or elsewhere: the server has deleted them
			if err := c.forgetMessagingKeys(); err != nil {
				return nil, err
			}
		}
		return nil, candor.ErrConsent(candor.Messaging)
	}
	if keys == nil || keys.Activated == nil || keys.Account != c.sess.Account || keys.Device != c.sess.Device {
		return nil, &candor.Error{Kind: candor.ConsentRequired, Category: candor.Messaging,
			Message: "messaging is on for this account but not yet on this phone: nothing was sent; turn it on here with 'consent messaging on'"}
	}
	return keys, nil
}

// ---- Discovery ----

// discoveryInput is what a number's token is computed from.
func discoveryInput(number string) []byte { return []byte(discoveryDomain + number) }

// discoveryRun is one OPRF run over several numbers.
type discoveryRun struct {
	client oprf.Client
	fin    *oprf.FinalizeData
	n      int
}

// blindNumbers blinds numbers for evaluation by the server.
func blindNumbers(numbers []string) (*discoveryRun, [][]byte, error) {
	in := make([][]byte, len(numbers))
	for i, n := range numbers {
		in[i] = discoveryInput(n)
	}
	cl := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := cl.Blind(in)
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot blind the numbers", err)
	}
	out := make([][]byte, len(req.Elements))
	for i, e := range req.Elements {
		if out[i], err = e.MarshalBinaryCompress(); err != nil {
			return nil, nil, candor.Wrap(candor.Internal, "cannot encode a blinded number", err)
		}
	}
	return &discoveryRun{client: cl, fin: fin, n: len(numbers)}, out, nil
}

// finish unblinds the server's evaluations into tokens, in order.
func (d *discoveryRun) finish(evaluated [][]byte) ([][]byte, error) {
	if len(evaluated) != d.n {
		return nil, candor.E(candor.Invalid, "the server evaluated a different number of discovery elements than asked")
	}
	ev := &oprf.Evaluation{Elements: make([]oprf.Evaluated, len(evaluated))}
	for i, b := range evaluated {
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(b); err != nil {
			return nil, candor.Wrap(candor.Invalid, "the server's discovery evaluation is malformed", err)
		}
		ev.Elements[i] = e
	}
	out, err := d.client.Finalize(d.fin, ev)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's discovery evaluation is invalid", err)
	}
	for _, t := range out {
		if len(t) != TokenBytes {
			return nil, candor.Errorf(candor.Internal, "unexpected discovery token length %d", len(t))
		}
	}
	return out, nil
}

// tokens returns the discovery tokens of numbers, evaluating (blindly)
// those not cached or cached too long ago.
func (c *Client) tokens(ctx context.Context, st *messagesState, numbers []string, fresh bool) (map[string][]byte, error) {
	now := c.opts.now()
	out := make(map[string][]byte, len(numbers))
	var need []string
	for _, n := range numbers {
		if r := st.Recipients[n]; r != nil && len(r.Token) == TokenBytes && !fresh && now.Sub(r.Evaluated) < tokenMaxAge {
			out[n] = r.Token
		} else if !slices.Contains(need, n) {
			need = append(need, n)
		}
	}
	for len(need) > 0 {
		batch := need[:min(evaluateBatch, len(need))]
		need = need[len(batch):]
		run, blinded, err := blindNumbers(batch)
		if err != nil {
			return nil, err
		}
		var ev api.Evaluated
		if err := c.call(ctx, http.MethodPost, "/messaging/discovery/evaluate", api.Blinded{Elements: blinded}, &ev); err != nil {
			return nil, err
		}
		toks, err := run.finish(ev.Elements)
		if err != nil {
			return nil, err
		}
		for i, n := range batch {
			r := st.Recipients[n]
			if r == nil {
				r = &knownRecipient{}
				st.Recipients[n] = r
			}
			if r.Token != nil && !bytes.Equal(r.Token, toks[i]) {
				// The server's discovery key changed: what was found
				// under the old token says nothing now.
				r.Account, r.Devices, r.Registered = "", nil, false
			}
			r.Token, r.Evaluated = toks[i], now.UTC()
			out[n] = toks[i]
		}
	}
	return out, nil
}

// registeredTokens asks for the registered tokens in the buckets of toks and
// returns those of toks found among them. Only 2-byte prefixes are sent.
func (c *Client) registeredTokens(ctx context.Context, toks [][]byte) ([][]byte, error) {
	var prefixes [][]byte
	seen := map[string]bool{}
	for _, t := range toks {
		p := t[:PrefixBytes]
		if !seen[string(p)] {
			seen[string(p)] = true
			prefixes = append(prefixes, p)
		}
	}
	have := map[string]bool{}
	for len(prefixes) > 0 {
		batch := prefixes[:min(matchBatch, len(prefixes))]
		prefixes = prefixes[len(batch):]
		var reg api.Registered
		if err := c.call(ctx, http.MethodPost, "/messaging/discovery/match", api.Buckets{Prefixes: batch}, &reg); err != nil {
			return nil, err
		}
		for _, t := range reg.Tokens {
			have[string(t)] = true
		}
	}
	var out [][]byte
	for _, t := range toks {
		if have[string(t)] {
			out = append(out, t)
		}
	}
	return out, nil
}

// fetchRecipient gets a registered token's account and device keys, checks
// them, updates the phone's record of the number and reports a change of
// keys. ok is false if the token is not registered.
func (c *Client) fetchRecipient(ctx context.Context, st *messagesState, number string) (r *knownRecipient, change *KeyChange, ok bool, err error) {
	r = st.Recipients[number]
	var rcp api.Recipient
	err = c.call(ctx, http.MethodGet, "/messaging/recipients/"+base64.RawURLEncoding.EncodeToString(r.Token), nil, &rcp)
	if candor.Is(err, candor.NotFound) {
		r.Registered = false // the keys seen last are kept, to notice new ones
		return r, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !candor.ValidID(rcp.Account) {
		return nil, nil, false, candor.E(candor.Invalid, "the server's recipient answer names no valid account")
	}
	var devs []api.DeviceKeys
	for _, d := range rcp.Devices {
		if checkDeviceKeys(d) == nil {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return nil, nil, false, candor.E(candor.Invalid, "the server's recipient answer has no usable device keys")
	}
	change = keyChange(number, r, rcp.Account, devs)
	r.Account, r.Devices, r.Registered, r.Checked = rcp.Account, devs, true, c.opts.now().UTC()
	return r, change, true, nil
}

// checkDeviceKeys checks that published keys are well-formed.
func checkDeviceKeys(d api.DeviceKeys) error {
	if !candor.ValidID(d.Device) {
		return candor.E(candor.Invalid, "a device id is malformed")
	}
	if len(d.Sign) != ed25519.PublicKeySize {
		return candor.E(candor.Invalid, "a signing key is malformed")
	}
	if _, err := messageKEM().NewPublicKey(d.HPKE); err != nil {
		return candor.E(candor.Invalid, "an encryption key is malformed")
	}
	return nil
}

// keyChange compares newly fetched keys with what the phone saw before;
// nil if nothing changed or nothing was seen before.
func keyChange(number string, before *knownRecipient, account string, devs []api.DeviceKeys) *KeyChange {
	if before == nil || before.Account == "" || len(before.Devices) == 0 {
		return nil
	}
	k := &KeyChange{Number: number, Account: candor.AccountID(account), AccountChanged: before.Account != account}
	for _, d := range devs {
		old := before.device(d.Device)
		switch {
		case old == nil:
			k.Added = append(k.Added, candor.DeviceID(d.Device))
		case !bytes.Equal(old.HPKE, d.HPKE) || !bytes.Equal(old.Sign, d.Sign):
			k.Changed = append(k.Changed, candor.DeviceID(d.Device))
		}
	}
	for _, o := range before.Devices {
		if !slices.ContainsFunc(devs, func(d api.DeviceKeys) bool { return d.Device == o.Device }) {
			k.Removed = append(k.Removed, candor.DeviceID(o.Device))
		}
	}
	if !k.AccountChanged && len(k.Added)+len(k.Changed)+len(k.Removed) == 0 {
		return nil
	}
	return k
}

// lookup finds whether number is on Candor messaging and, if so, its
// current keys. A cached registered token is fetched directly (the server
// knows registered tokens already); any other is first matched by bucket,
// so that the full token of a number not on the service is never sent.
func (c *Client) lookup(ctx context.Context, st *messagesState, number string) (*knownRecipient, *KeyChange, bool, error) {
	if r := st.Recipients[number]; r != nil && r.Registered && len(r.Token) == TokenBytes && c.opts.now().Sub(r.Evaluated) < tokenMaxAge {
		r, ch, ok, err := c.fetchRecipient(ctx, st, number)
		if err != nil || ok {
			return r, ch, ok, err
		}
	}
	toks, err := c.tokens(ctx, st, []string{number}, false)
	if err != nil {
		return nil, nil, false, err
	}
	reg, err := c.registeredTokens(ctx, [][]byte{toks[number]})
	if err != nil {
		return nil, nil, false, err
	}
	if len(reg) == 1 {
		return c.fetchRecipient(ctx, st, number)
	}
	st.Recipients[number].Registered = false
	return st.Recipients[number], nil, false, nil
}

// DiscoverContacts finds which of the phone's contacts are on Candor
// messaging, privately (see the package documentation of messaging): their
// numbers are blinded, only 2-byte buckets are matched, and only the tokens
// of numbers found registered are sent in full. It needs messaging on.
func (c *Client) DiscoverContacts(ctx context.Context) (DiscoveryResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.messagingReady(ctx); err != nil {
		return DiscoveryResult{}, err
	}
	cts, err := c.contactList()
	if err != nil {
		return DiscoveryResult{}, err
	}
	names := map[string]string{}
	var numbers []string
	for _, ct := range cts {
		for _, p := range ct.Phones {
			if phonePattern.MatchString(p) {
				if _, dup := names[p]; !dup {
					numbers = append(numbers, p)
					names[p] = ct.Name
				}
			}
		}
	}
	res := DiscoveryResult{Checked: len(numbers), Found: []Discovered{}}
	if len(numbers) == 0 {
		return res, nil
	}
	st, err := c.loadMessages()
	if err != nil {
		return res, err
	}
	toks, err := c.tokens(ctx, st, numbers, false)
	if err != nil {
		return res, err
	}
	all := make([][]byte, 0, len(numbers))
	for _, n := range numbers {
		all = append(all, toks[n])
	}
	reg, err := c.registeredTokens(ctx, all)
	if err != nil {
		return res, err
	}
	for _, n := range numbers {
		if !slices.ContainsFunc(reg, func(t []byte) bool { return bytes.Equal(t, toks[n]) }) {
			st.Recipients[n].Registered = false
			continue
		}
		r, ch, ok, err := c.fetchRecipient(ctx, st, n)
		if err != nil {
			c.saveMessages(st)
			return res, err
		}
		if ch != nil {
			res.KeyChanges = append(res.KeyChanges, *ch)
		}
		if ok {
			res.Found = append(res.Found, Discovered{Name: names[n], Number: n, Account: candor.AccountID(r.Account), Devices: len(r.Devices)})
		}
	}
	return res, c.saveMessages(st)
}

// contactList lists contacts without taking the lock.
func (c *Client) contactList() ([]Contact, error) {
	s, err := c.category(candor.Contacts)
	if err != nil {
		return nil, err
	}
	var out []Contact
	for _, r := range s.live() {
		if ct, err := contactOf(r.ID, r.Data); err == nil {
			out = append(out, ct)
		}
	}
	return out, nil
}

// ---- Envelopes ----

// plaintext is what a message's envelopes seal.
type plaintext struct {
	ID   string    `json:"id"`
	From string    `json:"from"`
	Text string    `json:"text"`
	Sent time.Time `json:"sent"`
}

// EnvelopeSignedBytes is what an envelope's Ed25519 signature covers:
//
//	"candor/message-signature/v1" 0x00
//	uint32(len(ID))         ID            (UTF-8)
//	uint32(len(FromDevice)) FromDevice    (UTF-8)
//	uint32(len(ToDevice))   ToDevice      (UTF-8)
//	int64(Sent.UnixNano())
//	uint32(len(Sealed))     Sealed        (enc || ct)
//
// with every integer big-endian. The domain string keeps a message
// signature from being taken for any other signature by the same key, and
// the length prefixes make the encoding unambiguous. Senders truncate Sent
// to the millisecond so that it survives any store.
func EnvelopeSignedBytes(env api.Envelope) []byte {
	b := make([]byte, 0, len(signatureDomain)+4*4+8+len(env.ID)+len(env.FromDevice)+len(env.ToDevice)+len(env.Sealed))
	b = append(b, signatureDomain...)
	for _, s := range []string{env.ID, env.FromDevice, env.ToDevice} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(env.Sent.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(env.Sealed)))
	return append(b, env.Sealed...)
}

// signEnvelope sets env's signature.
func signEnvelope(key ed25519.PrivateKey, env *api.Envelope) {
	env.Signature = ed25519.Sign(key, EnvelopeSignedBytes(*env))
}

// verifyEnvelope checks env's signature against a device's public key.
func verifyEnvelope(pub []byte, env api.Envelope) bool {
	if len(pub) != ed25519.PublicKeySize || len(env.Signature) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(pub), EnvelopeSignedBytes(env), env.Signature)
}

// seal encrypts plaintext to a device's HPKE public key.
func seal(devicePub []byte, pt []byte) ([]byte, error) {
	pk, err := messageKEM().NewPublicKey(devicePub)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "a recipient's encryption key is malformed", err)
	}
	out, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(MessageInfo), pt)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot seal the message", err)
	}
	return out, nil
}

// unseal decrypts an envelope's Sealed bytes with this device's key.
func unseal(key hpke.PrivateKey, sealed []byte) ([]byte, error) {
	return hpke.Open(key, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(MessageInfo), sealed)
}

// sealEnvelopes makes one signed envelope of pt per device.
func sealEnvelopes(sign ed25519.PrivateKey, fromDevice string, pt plaintext, devices []api.DeviceKeys) ([]api.Envelope, error) {
	body, err := json.Marshal(pt)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode the message", err)
	}
	out := make([]api.Envelope, 0, len(devices))
	for _, d := range devices {
		sealed, err := seal(d.HPKE, body)
		if err != nil {
			return nil, err
		}
		env := api.Envelope{ID: pt.ID, FromDevice: fromDevice, ToDevice: d.Device, Sent: pt.Sent, Sealed: sealed}
		signEnvelope(sign, &env)
		out = append(out, env)
	}
	return out, nil
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
	key    hpke.PrivateKey
	now    time.Time
	seen   map[string]map[string]time.Time
	sender senderKeys
}

// open checks one envelope and returns its message. A *rejection error
// means the envelope must be refused; any other error that it could not be
// checked now.
func (v *receiver) open(env api.Envelope) (plaintext, error) {
	var pt plaintext
	if len(env.Signature) == 0 {
		return pt, reject("unsigned")
	}
	if env.ToDevice != v.device {
		return pt, reject("not addressed to this device")
	}
	if env.ID == "" || env.FromDevice == "" {
		return pt, reject("incomplete envelope")
	}
	if env.Sent.Before(v.now.Add(-replayWindow)) {
		return pt, reject("too old to check for replay")
	}
	if env.Sent.After(v.now.Add(maxClockSkew)) {
		return pt, reject("dated in the future")
	}
	body, err := unseal(v.key, env.Sealed)
	if err != nil {
		return pt, reject("cannot be opened: tampered, or sealed to another key")
	}
	if err := json.Unmarshal(body, &pt); err != nil {
		return pt, reject("malformed message")
	}
	if pt.ID != env.ID || !pt.Sent.Equal(env.Sent) {
		return pt, reject("the message does not match its envelope")
	}
	if !phonePattern.MatchString(pt.From) || !utf8.ValidString(pt.Text) || len(pt.Text) > MaxMessageBytes {
		return pt, reject("malformed message")
	}
	keys, err := v.sender(pt.From, env.FromDevice, false)
	if err != nil {
		return pt, err
	}
	if !verifyEnvelope(keys.Sign, env) {
		// The phone's record may predate a new key of that device.
		fresh, err := v.sender(pt.From, env.FromDevice, true)
		if err != nil {
			return pt, err
		}
		if bytes.Equal(fresh.Sign, keys.Sign) || !verifyEnvelope(fresh.Sign, env) {
			return pt, reject("bad signature: tampered, or not signed by the sender's device")
		}
	}
	if _, dup := v.seen[env.FromDevice][env.ID]; dup {
		return pt, reject("replayed: this message was already received")
	}
	if v.seen[env.FromDevice] == nil {
		v.seen[env.FromDevice] = map[string]time.Time{}
	}
	v.seen[env.FromDevice][env.ID] = env.Sent
	return pt, nil
}

// ---- Send ----

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
	if !phonePattern.MatchString(to) {
		return SendResult{}, candor.E(candor.Invalid, "the recipient's number must be in E.164 form, like +919812345678")
	}
	if text == "" || !utf8.ValidString(text) {
		return SendResult{}, candor.E(candor.Invalid, "a message needs some UTF-8 text")
	}
	if len(text) > MaxMessageBytes {
		return SendResult{}, candor.Errorf(candor.TooLarge, "a message is at most %d bytes", MaxMessageBytes)
	}
	keys, err := c.messagingReady(ctx)
	if err != nil {
		return SendResult{}, err
	}
	sign, err := keys.signKey()
	if err != nil {
		return SendResult{}, err
	}
	st, err := c.loadMessages()
	if err != nil {
		return SendResult{}, err
	}
	now := c.opts.now().UTC().Truncate(time.Millisecond)
	res := SendResult{ID: candor.NewID("msg")}
	r, change, ok, err := c.lookup(ctx, st, to)
	if err != nil {
		c.saveMessages(st)
		return SendResult{}, err
	}
	if change != nil {
		res.KeyChanges = append(res.KeyChanges, *change)
	}
	msg := &ChatMessage{ID: res.ID, Direction: "out", From: c.dev.Phone, To: to, Text: text, Time: now}
	if !ok {
		if len(text) > MaxSMSBytes {
			c.saveMessages(st)
			return SendResult{}, candor.Errorf(candor.TooLarge, "not on Candor messaging, and too long for an SMS (at most %d bytes): shorten it", MaxSMSBytes)
		}
		res.Via, msg.Via = ViaSMS, ViaSMS
		err := c.call(ctx, http.MethodPost, "/carrier/sms", api.CarrierSMS{To: to, From: c.dev.Phone, Text: text}, nil)
		switch {
		case err == nil:
			res.Carrier, msg.Status = true, "sent as SMS"
		case candor.Is(err, candor.NotFound):
			msg.Status = "to be sent as SMS by the phone's SMS app"
		default:
			c.saveMessages(st)
			return SendResult{}, err
		}
		st.Messages = append(st.Messages, msg)
		return res, c.saveMessages(st)
	}
	pt := plaintext{ID: res.ID, From: c.dev.Phone, Text: text, Sent: now}
	var sent api.Sent
	for attempt := 0; ; attempt++ {
		envs, err := sealEnvelopes(sign, keys.Device, pt, r.Devices)
		if err != nil {
			return SendResult{}, err
		}
		err = c.call(ctx, http.MethodPost, "/messages", api.Send{To: r.Account, Envelopes: envs}, &sent)
		if err == nil {
			break
		}
		if attempt > 0 || !(candor.Is(err, candor.Conflict) || candor.Is(err, candor.Invalid)) {
			c.saveMessages(st)
			return SendResult{}, err
		}
		// The recipient's devices changed since the lookup: look again.
		var ch *KeyChange
		if r, ch, ok, err = c.fetchRecipient(ctx, st, to); err != nil || !ok {
			c.saveMessages(st)
			if err == nil {
				err = candor.E(candor.Conflict, "the recipient left Candor messaging while the message was being sent: send it again")
			}
			return SendResult{}, err
		}
		if ch != nil {
			res.KeyChanges = append(res.KeyChanges, *ch)
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
	st.Messages = append(st.Messages, msg)
	return res, c.saveMessages(st)
}

// ---- Inbox ----

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
	keys, err := c.messagingReady(ctx)
	if err != nil {
		return InboxResult{}, err
	}
	hk, err := keys.hpkeKey()
	if err != nil {
		return InboxResult{}, err
	}
	st, err := c.loadMessages()
	if err != nil {
		return InboxResult{}, err
	}
	res := InboxResult{Received: []ChatMessage{}}
	changed := map[string]bool{}
	lookup := func(number, device string, fresh bool) (api.DeviceKeys, error) {
		r := st.Recipients[number]
		if fresh || r == nil || !r.Registered || r.device(device) == nil {
			var ch *KeyChange
			var ok bool
			var err error
			if fresh && r != nil && r.Registered && len(r.Token) == TokenBytes {
				r, ch, ok, err = c.fetchRecipient(ctx, st, number)
			} else {
				r, ch, ok, err = c.lookup(ctx, st, number)
			}
			if err != nil {
				return api.DeviceKeys{}, err
			}
			if ch != nil && !changed[number] {
				changed[number] = true
				res.KeyChanges = append(res.KeyChanges, *ch)
			}
			if !ok {
				return api.DeviceKeys{}, reject("the sender's number is not on Candor messaging")
			}
		}
		d := r.device(device)
		if d == nil {
			return api.DeviceKeys{}, reject("the sending device is not one of the sender's devices")
		}
		return *d, nil
	}
	st.prune(c.opts.now())
	v := &receiver{device: keys.Device, key: hk, seen: st.Seen, sender: lookup}
	handled := map[string]bool{} // envelope and receipt ids acknowledged in this call
	for round := 0; round < maxInboxRound; round++ {
		var in api.Inbox
		if err := c.call(ctx, http.MethodGet, "/messages", nil, &in); err != nil {
			c.saveMessages(st)
			return res, err
		}
		var ack api.Ack
		fresh := 0
		var lookupErr error
		for _, env := range in.Envelopes {
			key := "e " + env.FromDevice + " " + env.ID
			if handled[key] {
				continue // acknowledged in an earlier round
			}
			fresh++
			v.now = c.opts.now()
			pt, err := v.open(env)
			var rj *rejection
			switch {
			case err == nil:
				now := c.opts.now().UTC()
				m := &ChatMessage{ID: pt.ID, Direction: "in", Via: ViaCandor, From: pt.From, To: c.dev.Phone, Text: pt.Text, Time: pt.Sent, Received: &now, FromDevice: env.FromDevice}
				st.Messages = append(st.Messages, m)
				res.Received = append(res.Received, *m)
			case errors.As(err, &rj):
				res.Rejected = append(res.Rejected, Rejected{ID: env.ID, FromDevice: env.FromDevice, Reason: rj.reason})
			default:
				lookupErr = err // not acknowledged: checked again next time
				continue
			}
			handled[key] = true
			if env.ID != "" && !slices.Contains(ack.Envelopes, env.ID) {
				ack.Envelopes = append(ack.Envelopes, env.ID)
			}
		}
		for _, rc := range in.Receipts {
			key := "r " + rc.ID + " " + rc.ToDevice
			if handled[key] {
				continue
			}
			fresh++
			handled[key] = true
			if m := st.sent(rc.ID); m != nil {
				for i := range m.Devices {
					if string(m.Devices[i].Device) == rc.ToDevice && m.Devices[i].Delivered == nil {
						t := rc.Time.UTC()
						m.Devices[i].Delivered = &t
						res.Receipts++
					}
				}
				m.Status = m.status()
			}
			if !slices.Contains(ack.Receipts, rc.ID) {
				ack.Receipts = append(ack.Receipts, rc.ID)
			}
		}
		// Stored before acknowledged: a crash in between brings the
		// envelopes back, to be refused as replays, never lost.
		if err := c.saveMessages(st); err != nil {
			return res, err
		}
		if len(ack.Envelopes)+len(ack.Receipts) > 0 {
			if err := c.call(ctx, http.MethodPost, "/messages/ack", ack, nil); err != nil {
				return res, err
			}
		}
		if lookupErr != nil {
			return res, lookupErr
		}
		if fresh == 0 {
			break
		}
	}
	// Fallback texts from phones that found this number not on the
	// service (development servers; the number is registered already).
	msgs, err := c.fetchCarrier(ctx)
	if err == nil {
		var keep []api.CarrierSMS
		for _, m := range msgs {
			if !(codePattern.MatchString(m.Text) && !phonePattern.MatchString(m.From)) {
				keep = append(keep, m)
			}
		}
		got, err := c.keepCarrierSMS(keep)
		if err != nil {
			return res, err
		}
		res.Received = append(res.Received, got...)
	} else if !candor.Is(err, candor.NotFound) {
		return res, err
	}
	return res, nil
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
	names := map[string]string{}
	if cts, err := c.contactList(); err == nil {
		for _, ct := range cts {
			for _, p := range ct.Phones {
				if _, ok := names[p]; !ok {
					names[p] = ct.Name
				}
			}
		}
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
