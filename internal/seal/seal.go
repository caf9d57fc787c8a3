// Package seal encrypts records at rest with AES-256-GCM and binds every
// ciphertext to where it belongs through associated data, so a ciphertext
// copied to another record, version, category or account fails to open.
//
// Format of a sealed value: a one-byte format version (1), a 12-byte random
// nonce, then the GCM ciphertext and tag. Random 96-bit nonces are safe here
// because each data key seals far fewer than 2^32 values over its life.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"

	"github.com/candorcloud/candor"
)

const (
	formatV1  = 1
	nonceSize = 12
	// KeySize is the size of every key this package accepts: AES-256.
	KeySize = 32
	// Overhead is the number of bytes Seal adds to a plaintext.
	Overhead = 1 + nonceSize + 16
)

// Key is an AES-256-GCM key ready to seal and open.
type Key struct{ aead cipher.AEAD }

// NewKey returns a Key for 32 bytes of key material. The caller may wipe
// material afterwards.
func NewKey(material []byte) (Key, error) {
	if len(material) != KeySize {
		return Key{}, errors.New("seal: key must be 32 bytes")
	}
	block, err := aes.NewCipher(material)
	if err != nil {
		return Key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, err
	}
	return Key{aead: aead}, nil
}

// Seal encrypts plaintext, binding it to ad.
func (k Key) Seal(plaintext, ad []byte) []byte {
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = formatV1
	rand.Read(out[1 : 1+nonceSize])
	return k.aead.Seal(out, out[1:1+nonceSize], plaintext, ad)
}

// Open decrypts a sealed value. Any change to the ciphertext or a different
// ad yields a candor.Integrity error, never data.
func (k Key) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != formatV1 {
		return nil, errIntegrity
	}
	pt, err := k.aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], ad)
	if err != nil {
		return nil, errIntegrity
	}
	return pt, nil
}

var errIntegrity = candor.E(candor.Integrity, "stored data failed its integrity check and was not returned")

// AD builds associated data from labelled parts without ambiguity: each part
// is length-prefixed, so ("ab","c") and ("a","bc") differ. The first part
// should name the purpose and format, e.g. "candor/record/v1".
func AD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}
