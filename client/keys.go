package client

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/cloudflare/circl/oprf"
	"golang.org/x/crypto/argon2"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// Domain separation for everything the phone derives. Changing any of these
// changes every key and handle: they are part of the protocol.
const (
	handleDomain    = "candor/login-handle/v1\x00"
	authKeyInfo     = "candor/auth-key/v1"
	deviceKeyInfo   = "candor/device-pseudonym/v1"
	imeiDomain      = "candor/imei/v1\x00"
	saltBytes       = 16
	keyBytes        = 32
	handleMinLength = 32
)

// DefaultKDF is the Argon2id cost a new account is created with: RFC 9106's
// second recommended option (t=3, m=64 MiB, p=4).
var DefaultKDF = api.KDF{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// MinimumKDF is the weakest Argon2id cost the phone accepts by default, at
// signup and when a server names the cost at login: OWASP's minimum
// (m=19 MiB, t=2, p=1). It protects against a server that asks for a cost
// so low that the auth key could be brute-forced back to the password.
var MinimumKDF = api.KDF{Time: 2, MemoryKiB: 19456, Threads: 1}

// maximumKDF bounds what a server may ask a phone to spend, so a hostile
// server cannot exhaust its memory.
var maximumKDF = api.KDF{Time: 64, MemoryKiB: 4 << 20, Threads: 64}

// NormalizeEmail returns the form of an email address that its login handle
// is computed from: trimmed and lowercased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// checkKDF refuses a cost weaker than floor in any dimension, or beyond
// what a phone can afford.
func checkKDF(k, floor api.KDF) error {
	if k.Time < floor.Time || k.MemoryKiB < floor.MemoryKiB || k.Threads < floor.Threads || k.Threads == 0 {
		return candor.Errorf(candor.Invalid, "the password hashing cost (t=%d, m=%d KiB, p=%d) is below this phone's minimum (t=%d, m=%d KiB, p=%d): refusing to derive a key that weak",
			k.Time, k.MemoryKiB, k.Threads, floor.Time, floor.MemoryKiB, floor.Threads)
	}
	if k.Time > maximumKDF.Time || k.MemoryKiB > maximumKDF.MemoryKiB || k.Threads > maximumKDF.Threads || k.MemoryKiB < 8*uint32(k.Threads) {
		return candor.Errorf(candor.Invalid, "the password hashing cost (t=%d, m=%d KiB, p=%d) is out of range", k.Time, k.MemoryKiB, k.Threads)
	}
	return nil
}

// secrets are what the phone derives from the password. The password and
// the Argon2id master key are never stored; AuthKey is sent to the server
// (which keeps only a slow hash of it) and DeviceKey never leaves the phone.
type secrets struct {
	AuthKey   []byte
	DeviceKey []byte
}

// deriveSecrets runs Argon2id over the password with the account's salt and
// cost, then splits the master key with HKDF-SHA256 into independent keys.
// It is deliberately slow: that is what protects a password whose auth key
// leaks from the server.
func deriveSecrets(password string, salt []byte, kdf api.KDF) (secrets, error) {
	if len(salt) < saltBytes {
		return secrets{}, candor.E(candor.Invalid, "the account's salt is too short")
	}
	master := argon2.IDKey([]byte(password), salt, kdf.Time, kdf.MemoryKiB, kdf.Threads, keyBytes)
	defer clear(master)
	auth, err := hkdf.Key(sha256.New, master, nil, authKeyInfo, keyBytes)
	if err != nil {
		return secrets{}, candor.Wrap(candor.Internal, "cannot derive the auth key", err)
	}
	dev, err := hkdf.Key(sha256.New, master, nil, deviceKeyInfo, keyBytes)
	if err != nil {
		return secrets{}, candor.Wrap(candor.Internal, "cannot derive the device key", err)
	}
	return secrets{AuthKey: auth, DeviceKey: dev}, nil
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
// handle. The email is blinded on the phone; the server evaluates its key
// over the blinded element without learning the email, and the phone
// unblinds and finalizes. Nobody can compute a handle without the server's
// key, and the server never sees the email.
type handleBlinding struct {
	client oprf.Client
	fin    *oprf.FinalizeData
	req    *oprf.EvaluationRequest
}

// blindHandle starts a handle computation for an email (normalized here).
func blindHandle(email string) (*handleBlinding, []byte, error) {
	c := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := c.Blind([][]byte{[]byte(handleDomain + NormalizeEmail(email))})
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot blind the login handle", err)
	}
	blinded, err := req.Elements[0].MarshalBinaryCompress()
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot encode the login handle", err)
	}
	return &handleBlinding{client: c, fin: fin, req: req}, blinded, nil
}

// finish unblinds the server's evaluation and returns the 64-byte handle.
func (h *handleBlinding) finish(evaluated []byte) ([]byte, error) {
	e := oprf.SuiteRistretto255.Group().NewElement()
	if err := e.UnmarshalBinary(evaluated); err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's login handle evaluation is malformed", err)
	}
	out, err := h.client.Finalize(h.fin, &oprf.Evaluation{Elements: []oprf.Evaluated{e}})
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's login handle evaluation is invalid", err)
	}
	if len(out) != 1 || len(out[0]) < handleMinLength {
		return nil, candor.E(candor.Internal, fmt.Sprintf("unexpected login handle length %d", len(out)))
	}
	return out[0], nil
}
