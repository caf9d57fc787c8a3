// Package login holds what a device derives to sign in to Candor: the
// login handle, an OPRF output over the email computed with the server's
// blind help, and the auth and device keys, split with HKDF-SHA256 from an
// Argon2id hash of the password.
//
// It is the one implementation of these derivations. The phone's client
// (package client) and the browser (cmd/candor-wasm, compiled to
// WebAssembly) both call it, so the two cannot drift apart. It imports
// nothing that needs the network or a file system, which keeps the
// WebAssembly build small.
package login

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/cloudflare/circl/oprf"
	"golang.org/x/crypto/argon2"

	"github.com/candorcloud/candor"
)

// Domain separation for everything a device derives at sign-in. Changing
// any of these changes every key and handle: they are part of the protocol.
const (
	// HandleDomain prefixes the normalized email before the OPRF; a server
	// computing a handle itself (in tests) must use it too.
	HandleDomain = "candor/login-handle/v1\x00"

	authKeyInfo     = "candor/auth-key/v1"
	deviceKeyInfo   = "candor/device-pseudonym/v1"
	saltBytes       = 16
	keyBytes        = 32
	handleMinLength = 32
)

// Cost is an Argon2id cost: passes over memory, memory in KiB, lanes. It
// has the fields of api.KDF, which converts to it; it is its own type so
// that this package does not depend on the HTTP API's package.
type Cost struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultCost is the Argon2id cost a new account is created with: RFC
// 9106's second recommended option (t=3, m=64 MiB, p=4).
var DefaultCost = Cost{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// MinimumCost is the weakest Argon2id cost a device accepts by default, at
// signup and when a server names the cost at login: OWASP's minimum
// (m=19 MiB, t=2, p=1). It protects against a server that asks for a cost
// so low that the auth key could be brute-forced back to the password.
var MinimumCost = Cost{Time: 2, MemoryKiB: 19456, Threads: 1}

// maximumCost bounds what a server may ask a device to spend (see
// Cost.Affordable).
var maximumCost = Cost{Time: 64, MemoryKiB: 4 << 20, Threads: 64}

// SaltBytes is the length of the random salt a new account is given.
const SaltBytes = saltBytes

// NormalizeEmail returns the form of an email address that its login handle
// is computed from: trimmed and lowercased.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Below reports whether k is weaker than floor in any dimension, or has
// no lane at all. A device refuses such a cost before spending the password
// on it: a hostile server could otherwise ask for a cost so low that the
// auth key could be brute-forced back to the password.
func (k Cost) Below(floor Cost) bool {
	return k.Time < floor.Time || k.MemoryKiB < floor.MemoryKiB || k.Threads < floor.Threads || k.Threads == 0
}

// Affordable reports whether a device can spend k: at most 64 passes,
// 4 GiB and 64 lanes, and at least the 8 KiB a lane needs. It bounds what
// a hostile server may ask a device to spend.
func (k Cost) Affordable() bool {
	return k.Time <= maximumCost.Time && k.MemoryKiB <= maximumCost.MemoryKiB && k.Threads <= maximumCost.Threads && k.MemoryKiB >= 8*uint32(k.Threads)
}

// Keys are what a device derives from the password. The password and the
// Argon2id master key are never kept; AuthKey is sent to the server (which
// keeps only a slow hash of it) and DeviceKey never leaves the device.
type Keys struct {
	AuthKey   []byte
	DeviceKey []byte
}

// DeriveKeys runs Argon2id over the password with the account's salt and
// cost, then splits the master key with HKDF-SHA256 into independent keys.
// It is deliberately slow: that is what protects a password whose auth key
// leaks from the server. It fails with Invalid on a salt shorter than
// SaltBytes; it does not check the cost (see Cost.Below).
func DeriveKeys(password string, salt []byte, cost Cost) (Keys, error) {
	if len(salt) < saltBytes {
		return Keys{}, candor.E(candor.Invalid, "the account's salt is too short")
	}
	master := argon2.IDKey([]byte(password), salt, cost.Time, cost.MemoryKiB, cost.Threads, keyBytes)
	defer clear(master)
	auth, err := hkdf.Key(sha256.New, master, nil, authKeyInfo, keyBytes)
	if err != nil {
		return Keys{}, candor.Wrap(candor.Internal, "cannot derive the auth key", err)
	}
	dev, err := hkdf.Key(sha256.New, master, nil, deviceKeyInfo, keyBytes)
	if err != nil {
		return Keys{}, candor.Wrap(candor.Internal, "cannot derive the device key", err)
	}
	return Keys{AuthKey: auth, DeviceKey: dev}, nil
}

// Blinding is one run of the OPRF that turns an email into a login handle.
// The email is blinded on the device; the server evaluates its key over the
// blinded element without learning the email, and the device unblinds and
// finalizes. Nobody can compute a handle without the server's key, and the
// server never sees the email.
//
// A Blinding holds the normalized email and the blinding scalar; it can be
// kept outside Go (in a page's JavaScript) with MarshalBinary and
// UnmarshalBinary between the two steps.
type Blinding struct {
	email string
	blind oprf.Blind
}

var suite = oprf.SuiteRistretto255

// Blind starts a handle computation for an email (normalized here) with a
// fresh random blinding scalar, and returns the blinded element to send to
// the server.
func Blind(email string) (*Blinding, []byte, error) {
	b := &Blinding{email: NormalizeEmail(email), blind: suite.Group().RandomNonZeroScalar(rand.Reader)}
	_, req, err := b.request()
	if err != nil {
		return nil, nil, err
	}
	blinded, err := req.Elements[0].MarshalBinaryCompress()
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot encode the login handle", err)
	}
	return b, blinded, nil
}

func (b *Blinding) request() (*oprf.FinalizeData, *oprf.EvaluationRequest, error) {
	fin, req, err := oprf.NewClient(suite).DeterministicBlind([][]byte{[]byte(HandleDomain + b.email)}, []oprf.Blind{b.blind})
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot blind the login handle", err)
	}
	return fin, req, nil
}

// Finish unblinds the server's evaluation and returns the 64-byte handle.
// A malformed or invalid evaluation fails with Invalid.
func (b *Blinding) Finish(evaluated []byte) ([]byte, error) {
	e := suite.Group().NewElement()
	if err := e.UnmarshalBinary(evaluated); err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's login handle evaluation is malformed", err)
	}
	fin, _, err := b.request()
	if err != nil {
		return nil, err
	}
	out, err := oprf.NewClient(suite).Finalize(fin, &oprf.Evaluation{Elements: []oprf.Evaluated{e}})
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's login handle evaluation is invalid", err)
	}
	if len(out) != 1 || len(out[0]) < handleMinLength {
		return nil, candor.E(candor.Internal, fmt.Sprintf("unexpected login handle length %d", len(out)))
	}
	return out[0], nil
}

// MarshalBinary encodes the blinding: the scalar, then the normalized
// email. The encoding is secret in the sense that it links the blinded
// element to the email: keep it in the page's memory only.
func (b *Blinding) MarshalBinary() ([]byte, error) {
	s, err := b.blind.MarshalBinary()
	if err != nil {
		return nil, candor.Wrap(candor.Internal, "cannot encode the login handle blinding", err)
	}
	return append(s, b.email...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded; it fails with
// Invalid on anything else.
func (b *Blinding) UnmarshalBinary(data []byte) error {
	n := int(suite.Group().Params().ScalarLength)
	if len(data) <= n {
		return candor.E(candor.Invalid, "the login handle blinding is too short")
	}
	s := suite.Group().NewScalar()
	if err := s.UnmarshalBinary(data[:n]); err != nil {
		return candor.Wrap(candor.Invalid, "the login handle blinding is malformed", err)
	}
	if s.IsZero() {
		return candor.E(candor.Invalid, "the login handle blinding is zero")
	}
	b.email, b.blind = string(data[n:]), s
	return nil
}
