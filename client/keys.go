package client

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/login"
)

// The sign-in derivations (login handle, Argon2id, HKDF split) live in
// package login, which the browser runs too, compiled to WebAssembly: one
// implementation for both. What stays here is the phone's own: the keyed
// IMEI pseudonym.
const (
	handleDomain = login.HandleDomain
	imeiDomain   = "candor/imei/v1\x00"
	saltBytes    = login.SaltBytes
)

// DefaultKDF is the Argon2id cost a new account is created with: RFC 9106's
// second recommended option (t=3, m=64 MiB, p=4).
var DefaultKDF = api.KDF(login.DefaultCost)

// MinimumKDF is the weakest Argon2id cost the phone accepts by default, at
// signup and when a server names the cost at login: OWASP's minimum
// (m=19 MiB, t=2, p=1). It protects against a server that asks for a cost
// so low that the auth key could be brute-forced back to the password.
var MinimumKDF = api.KDF(login.MinimumCost)

// NormalizeEmail returns the form of an email address that its login handle
// is computed from: trimmed and lowercased.
func NormalizeEmail(email string) string { return login.NormalizeEmail(email) }

// checkKDF refuses a cost weaker than floor in any dimension, or beyond
// what a phone can afford.
func checkKDF(k, floor api.KDF) error {
	if login.Cost(k).Below(login.Cost(floor)) {
		return candor.Errorf(candor.Invalid, "the password hashing cost (t=%d, m=%d KiB, p=%d) is below this phone's minimum (t=%d, m=%d KiB, p=%d): refusing to derive a key that weak",
			k.Time, k.MemoryKiB, k.Threads, floor.Time, floor.MemoryKiB, floor.Threads)
	}
	if !login.Cost(k).Affordable() {
		return candor.Errorf(candor.Invalid, "the password hashing cost (t=%d, m=%d KiB, p=%d) is out of range", k.Time, k.MemoryKiB, k.Threads)
	}
	return nil
}

// secrets are what the phone derives from the password (see login.Keys).
type secrets = login.Keys

// deriveSecrets runs Argon2id over the password with the account's salt and
// cost, then splits the master key with HKDF-SHA256 (see login.DeriveKeys).
func deriveSecrets(password string, salt []byte, kdf api.KDF) (secrets, error) {
	return login.DeriveKeys(password, salt, login.Cost(kdf))
}

// devicePseudonym is the keyed pseudonym of an IMEI that the server
// registers the device under: HMAC-SHA256 under a key derived from the
// account's password. Unlike an unkeyed hash of the IMEI (whose 15-digit
// space can be searched in seconds), it cannot be reversed without the key,
// and the same phone has unrelated pseudonyms in different accounts.
func devicePseudonym(deviceKey []byte, imei string) []byte {
	m := hmac.New(sha256.New, deviceKey)
	m.Write([]byte(imeiDomain + imei))
	return m.Sum(nil)
}

// handleBlinding is one run of the OPRF that turns an email into a login
// handle (see login.Blinding).
type handleBlinding struct{ b *login.Blinding }

// blindHandle starts a handle computation for an email (normalized here).
func blindHandle(email string) (*handleBlinding, []byte, error) {
	b, blinded, err := login.Blind(email)
	if err != nil {
		return nil, nil, err
	}
	return &handleBlinding{b}, blinded, nil
}

// finish unblinds the server's evaluation and returns the 64-byte handle.
func (h *handleBlinding) finish(evaluated []byte) ([]byte, error) { return h.b.Finish(evaluated) }
