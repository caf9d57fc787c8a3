// Package envelope is the end-to-end cryptography of Candor messaging: how
// a message is sealed to each of its recipient's devices, signed by the
// sending device, and checked and opened by the recipient. The server
// carries envelopes and learns neither their text nor who wrote it beyond
// the sending device's id.
//
// # Keys
//
// Each device has two private keys, made by GenerateKeys and kept on the
// phone (NewIdentity loads them): an HPKE key of the KEM ML-KEM-768 +
// X25519 (KEM, crypto/hpke; stored as its 32-byte seed) to open envelopes,
// and an Ed25519 key (stored as its seed) to sign them. Their public
// halves are published (PublicKeys, checked by CheckPublicKeys).
//
// # Envelopes
//
// A message's plaintext is the JSON object of a Message,
//
//	{"id": "msg_…", "from": "+E164", "text": "…", "sent": "RFC 3339 time"}
//
// sealed once per recipient device with HPKE base mode (KEM
// MLKEM768-X25519, KDF HKDF-SHA256, AEAD AES-256-GCM, info Info, no AAD):
// an envelope's Sealed is enc || ct as hpke.Seal returns it. The sending
// device signs each envelope with Ed25519 over SignedBytes: a domain
// string, then the envelope's id, sending and receiving device, time and
// sealed bytes, each length-prefixed, so that no field can be moved into
// another and no other signature by the same key can pass for it.
//
// OpenMessage opens an envelope and checks that the plaintext repeats the
// envelope's id and time; Verify checks its signature against the sending
// device's published key. Deciding whether that key belongs to the number
// the plaintext claims, and refusing replays, is the receiver's part
// (package client's inbox).
//
// Changing anything documented here breaks interoperability with every
// other phone: it is the protocol.
package envelope
