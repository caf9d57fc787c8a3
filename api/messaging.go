package api

import "time"

// Messaging (promise P5): free texts between phones over IP, end-to-end
// encrypted, opt-in only.
//
// Activation, after the person turns messaging on:
//
//	POST /v1/messaging/verification  VerificationRequest → 202 (a code goes to the number by SMS)
//	POST /v1/messaging/activation    Activation → Consent (messaging on; the device's keys published)
//
// The server keeps the number only as its discovery token (an OPRF output
// under a server key), never in the clear or as an unkeyed hash.
//
// Discovery, with no number leaving the phone in a recoverable form:
//
//	POST /v1/messaging/discovery/evaluate  Blinded → Evaluated (rate-limited per account)
//	POST /v1/messaging/discovery/match     Buckets → Registered (every registered token in the buckets asked)
//	GET  /v1/messaging/recipients/{token}  → Recipient (the devices' public keys)
//
// Delivery, one sealed envelope per recipient device:
//
//	POST /v1/messages          Send → Sent
//	GET  /v1/messages          → Inbox (envelopes and receipts waiting for this device)
//	POST /v1/messages/ack      Ack → 204 (delivered: deleted from the server, receipts queued to the sender)
//	GET  /v1/messages/ws       WebSocket: the server pushes a Notice when something waits
//
// With serve --dev an emulated carrier delivers SMS between emulated
// phones, in memory only:
//
//	POST /v1/carrier/sms       CarrierSMS → 202
//	GET  /v1/carrier/sms?to=E164  → CarrierInbox (and forgets them)

// VerificationRequest asks for a code to be sent to the phone's number.
type VerificationRequest struct {
	Phone string `json:"phone"` // E.164
}

// DeviceKeys are a device's public messaging keys: an HPKE key
// (ML-KEM-768 + X25519, crypto/hpke) that envelopes are sealed to, and an
// Ed25519 key that signs what it sends.
type DeviceKeys struct {
	Device  string    `json:"device"`
	HPKE    []byte    `json:"hpke"`
	Sign    []byte    `json:"sign"`
	Created time.Time `json:"created"`
}

// Activation confirms the number with the code it received and publishes
// this device's keys.
type Activation struct {
	Phone string     `json:"phone"`
	Code  string     `json:"code"`
	Keys  DeviceKeys `json:"keys"`
}

// Blinded are blinded discovery inputs (ristretto255 elements), one per
// number; Evaluated the server's blind evaluations, in the same order.
type Blinded struct {
	Elements [][]byte `json:"elements"`
}

// Evaluated answers Blinded.
type Evaluated struct {
	Elements [][]byte `json:"elements"`
}

// Buckets asks for the registered tokens whose first two bytes are one of
// Prefixes (each 2 bytes): the phone then matches its contacts' tokens
// locally, and the server learns only buckets, each shared by many numbers.
type Buckets struct {
	Prefixes [][]byte `json:"prefixes"`
}

// Registered answers Buckets.
type Registered struct {
	Tokens [][]byte `json:"tokens"`
}

// Recipient is a registered number's account and its devices' keys.
type Recipient struct {
	Account string       `json:"account"`
	Devices []DeviceKeys `json:"devices"`
}

// Envelope is one message sealed to one device: Sealed is the HPKE
// ciphertext (enc || ct) of the message, and Signature the sender device's
// Ed25519 signature over SignedBytes. The server sees neither text nor
// numbers.
type Envelope struct {
	ID         string    `json:"id"` // the message's id, the same in every envelope of one message
	FromDevice string    `json:"from_device"`
	ToDevice   string    `json:"to_device"`
	Sent       time.Time `json:"sent"`
	Sealed     []byte    `json:"sealed"`
	Signature  []byte    `json:"signature"`
}

// Send delivers one message to every device of the account To names.
type Send struct {
	To        string     `json:"to"` // the recipient account
	Envelopes []Envelope `json:"envelopes"`
}

// Sent answers Send.
type Sent struct {
	ID      string    `json:"id"`
	Queued  int       `json:"queued"`
	Expires time.Time `json:"expires"`
}

// Receipt tells a sender that a message was delivered to one device.
type Receipt struct {
	ID       string    `json:"id"`
	ToDevice string    `json:"to_device"`
	Time     time.Time `json:"time"`
}

// Inbox is what waits for this device.
type Inbox struct {
	Envelopes []Envelope `json:"envelopes"`
	Receipts  []Receipt  `json:"receipts"`
}

// Ack acknowledges envelopes (deleted from the server at once) and
// receipts. An empty list is left out: the API describes both as arrays,
// never null.
type Ack struct {
	Envelopes []string `json:"envelopes,omitempty"`
	Receipts  []string `json:"receipts,omitempty"`
}

// Notice is what the WebSocket pushes: something waits; fetch the inbox.
type Notice struct {
	Waiting int `json:"waiting"`
}

// CarrierSMS is a text sent through the emulated carrier.
type CarrierSMS struct {
	To   string `json:"to"`
	From string `json:"from"`
	Text string `json:"text"`
}

// CarrierInbox is what the emulated carrier delivered to a number.
type CarrierInbox struct {
	Messages []CarrierSMS `json:"messages"`
}
