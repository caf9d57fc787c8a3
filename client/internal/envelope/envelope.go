package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Info is the HPKE info string envelopes are sealed with.
const Info = "candor/message/v1"

// signatureDomain starts the bytes an envelope's signature covers.
const signatureDomain = "candor/message-signature/v1\x00"

// KEM is the KEM of the envelopes: ML-KEM-768 + X25519.
func KEM() hpke.KEM { return hpke.MLKEM768X25519() }

// The KDF and AEAD of the envelopes' HPKE suite.
func kdf() hpke.KDF   { return hpke.HKDFSHA256() }
func aead() hpke.AEAD { return hpke.AES256GCM() }

// Seal encrypts plaintext to a device's published KEM public key and
// returns enc || ct. A malformed key is Invalid.
func Seal(recipient []byte, plaintext []byte) ([]byte, error) {
	pk, err := KEM().NewPublicKey(recipient)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "a recipient's encryption key is malformed", err)
	}
	out, err := hpke.Seal(pk, kdf(), aead(), []byte(Info), plaintext)
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot seal the message", err)
	}
	return out, nil
}

// SignedBytes is what an envelope's Ed25519 signature covers:
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
// the length prefixes make the encoding unambiguous. The signature itself
// and Sent's time zone are not covered. Senders truncate Sent to the
// millisecond so that it survives any store.
func SignedBytes(env api.Envelope) []byte {
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

// Verify reports whether env's signature is valid under a device's
// published Ed25519 key. A key or signature of the wrong size is not.
func Verify(signer []byte, env api.Envelope) bool {
	if len(signer) != ed25519.PublicKeySize || len(env.Signature) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(signer), SignedBytes(env), env.Signature)
}
