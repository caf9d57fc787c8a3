package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// authenticator is a software passkey authenticator, a test fixture that
// stands where a security key or a phone would: one ECDSA P-256 key,
// "none" attestation, authenticator data with the relying party id's
// hash, flags UP|UV and a signature counter. It answers the server's
// options as a browser would hand them to navigator.credentials, so that
// go-webauthn's real verification runs on what it makes.
type authenticator struct {
	t       testing.TB
	origin  string
	key     *ecdsa.PrivateKey
	id      []byte // credential id
	user    []byte // the user handle it was registered for
	counter uint32
	// presenceOnly makes its assertions say the user was present but not
	// verified (flag UP without UV): a security key someone touched,
	// without its PIN or fingerprint.
	presenceOnly bool
}

func newAuthenticator(t testing.TB, origin string) *authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &authenticator{t: t, origin: origin, key: key, id: id}
}

var b64 = base64.RawURLEncoding

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// options is the part of the server's options an authenticator reads.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func parseOptions(t testing.TB, body []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(body, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("passkey options %s: %v", body, err)
	}
	return o
}

func (a *authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return b
}

func (a *authenticator) authData(rpID string, flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	return append(out, attested...)
}

// create answers creation options (navigator.credentials.create).
func (a *authenticator) create(body []byte) []byte {
	a.t.Helper()
	o := parseOptions(a.t, body)
	user, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		a.t.Fatalf("user id %q: %v", o.PublicKey.User.ID, err)
	}
	a.user = user
	x, y := a.key.PublicKey.X.FillBytes(make([]byte, 32)), a.key.PublicKey.Y.FillBytes(make([]byte, 32))
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(append(attested, a.id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": a.authData(o.PublicKey.RP.ID, flagUP|flagUV|flagAT, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"response": map[string]any{"attestationObject": b64.EncodeToString(att),
			"clientDataJSON": b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)), "transports": []string{"usb"}}})
	return out
}

// get answers request options (navigator.credentials.get), signing with
// the next counter. Like a browser, it refuses options whose allow list
// does not name its credential, unless anyway (an attacker's own client).
func (a *authenticator) get(body []byte, anyway bool) []byte {
	a.t.Helper()
	o := parseOptions(a.t, body)
	if allow := o.PublicKey.AllowCredentials; len(allow) > 0 && !anyway &&
		!slices.ContainsFunc(allow, func(c struct {
			ID string `json:"id"`
		}) bool {
			return c.ID == b64.EncodeToString(a.id)
		}) {
		a.t.Fatal("the options do not allow this authenticator's credential")
	}
	a.counter++
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	flags := byte(flagUP | flagUV)
	if a.presenceOnly {
		flags = flagUP
	}
	ad := a.authData(o.PublicKey.RPID, flags, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"response": map[string]any{"authenticatorData": b64.EncodeToString(ad), "clientDataJSON": b64.EncodeToString(cd),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(a.user)}})
	return out
}
