package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Identity is one device's private messaging keys, loaded: it opens the
// envelopes sealed to the device and signs those it sends. It never leaves
// the phone.
type Identity struct {
	open hpke.PrivateKey
	sign ed25519.PrivateKey
}

// GenerateKeys makes a new device's private keys in the form they are
// stored in: the KEM's serialized private key (a seed) and an Ed25519
// seed.
func GenerateKeys() (kem, sign []byte, err error) {
	k, err := KEM().GenerateKey()
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot generate the messaging key", err)
	}
	if kem, err = k.Bytes(); err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot encode the messaging key", err)
	}
	sign = make([]byte, ed25519.SeedSize)
	rand.Read(sign)
	return kem, sign, nil
}

// NewIdentity loads the private keys GenerateKeys made. Keys that cannot
// be loaded (a damaged state file) are Integrity errors.
func NewIdentity(kem, sign []byte) (*Identity, error) {
	open, err := KEM().NewPrivateKey(kem)
	if err != nil {
		return nil, candor.Wrap(candor.Integrity, "the phone's messaging key is damaged", err)
	}
	if len(sign) != ed25519.SeedSize {
		return nil, candor.E(candor.Integrity, "the phone's signing key is damaged")
	}
	return &Identity{open: open, sign: ed25519.NewKeyFromSeed(sign)}, nil
}

// PublicKeys returns the keys to publish: the KEM public key that
// envelopes are sealed to, and the Ed25519 key that checks signatures.
func (id *Identity) PublicKeys() (kem, sign []byte) {
	return id.open.PublicKey().Bytes(), id.sign.Public().(ed25519.PublicKey)
}

// Sign sets env's signature over SignedBytes(env).
func (id *Identity) Sign(env *api.Envelope) {
	env.Signature = ed25519.Sign(id.sign, SignedBytes(*env))
}

// Open decrypts an envelope's Sealed bytes. It fails for bytes tampered
// with in any way, or sealed to another key or under another suite or
// info; the error says nothing more.
func (id *Identity) Open(sealed []byte) ([]byte, error) {
	return hpke.Open(id.open, kdf(), aead(), []byte(Info), sealed)
}

// CheckPublicKeys checks that published keys are well-formed: a KEM public
// key and an Ed25519 key. It does not check whose they are.
func CheckPublicKeys(kem, sign []byte) error {
	if len(sign) != ed25519.PublicKeySize {
		return candor.E(candor.Invalid, "a signing key is malformed")
	}
	if _, err := KEM().NewPublicKey(kem); err != nil {
		return candor.E(candor.Invalid, "an encryption key is malformed")
	}
	return nil
}
