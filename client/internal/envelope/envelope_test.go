package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// kat is testdata/kat.json. Its hpke_pq and ed25519 parts are published
// test vectors, computed independently of this package; envelope and
// message are an envelope this package sealed (to the vector's KEM key)
// and signed (with the RFC 8032 key) once, committed so that any change
// to the suite, the info string, the plaintext's form or the signed bytes
// is noticed.
type kat struct {
	HPKEPQ struct {
		SKRm, PKRm, Enc, Info, AAD, CT, PT hexBytes
	} `json:"hpke_pq"`
	Ed25519 struct {
		Seed, Public hexBytes
	}
	Envelope struct {
		ID         string    `json:"id"`
		FromDevice string    `json:"from_device"`
		ToDevice   string    `json:"to_device"`
		Sent       time.Time `json:"sent"`
		Sealed     hexBytes  `json:"sealed"`
		Signature  hexBytes  `json:"signature"`
	}
	Message Message
}

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

func loadKAT(t testing.TB) kat {
	t.Helper()
	b, err := os.ReadFile("testdata/kat.json")
	if err != nil {
		t.Fatal(err)
	}
	var k kat
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k kat) identity(t testing.TB) *Identity {
	t.Helper()
	id, err := NewIdentity(k.HPKEPQ.SKRm, k.Ed25519.Seed)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (k kat) envelope() api.Envelope {
	e := k.Envelope
	return api.Envelope{ID: e.ID, FromDevice: e.FromDevice, ToDevice: e.ToDevice, Sent: e.Sent,
		Sealed: bytes.Clone(e.Sealed), Signature: bytes.Clone(e.Signature)}
}

// The stored private keys give the published public keys of the test
// vectors: the KEM is MLKEM768-X25519 with its 32-byte seed as the private
// key, the signature Ed25519 with its seed.
func TestKeysKnownAnswer(t *testing.T) {
	k := loadKAT(t)
	kem, sign := k.identity(t).PublicKeys()
	if !bytes.Equal(kem, k.HPKEPQ.PKRm) {
		t.Errorf("KEM public key %x..., want %x...", kem[:16], k.HPKEPQ.PKRm[:16])
	}
	if !bytes.Equal(sign, k.Ed25519.Public) {
		t.Errorf("Ed25519 public key %x, want %x", sign, k.Ed25519.Public)
	}
	if KEM().ID() != 0x647a {
		t.Errorf("KEM id %#x, want 0x647a (MLKEM768-X25519)", KEM().ID())
	}
}

// The KEM and KDF are the standard ones: with the vector's AEAD they open
// the vector's ciphertext.
func TestSuiteKnownAnswer(t *testing.T) {
	v := loadKAT(t).HPKEPQ
	sk, err := KEM().NewPrivateKey(v.SKRm)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hpke.NewRecipient(v.Enc, sk, kdf(), hpke.ChaCha20Poly1305(), v.Info)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := r.Open(v.AAD, v.CT); err != nil || !bytes.Equal(pt, v.PT) {
		t.Errorf("the vector's ciphertext opened to %q, %v; want %q", pt, err, v.PT)
	}
	if kdf().ID() != 0x0001 || aead().ID() != 0x0002 {
		t.Errorf("KDF %#x, AEAD %#x; want HKDF-SHA256 (1) and AES-256-GCM (2)", kdf().ID(), aead().ID())
	}
}

// The committed envelope opens to the committed message, with this package
// and with plain hpke.Open under the documented suite.
func TestOpenKnownAnswer(t *testing.T) {
	k := loadKAT(t)
	id := k.identity(t)
	env := k.envelope()
	m, err := id.OpenMessage(env)
	if err != nil {
		t.Fatal(err)
	}
	if m != k.Message || m.Text != "Lantern over the harbour नमस्ते 你好 🎉" {
		t.Errorf("opened %+v, want %+v", m, k.Message)
	}
	sk, _ := KEM().NewPrivateKey(k.HPKEPQ.SKRm)
	pt, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("candor/message/v1"), env.Sealed)
	if err != nil {
		t.Fatalf("hpke.Open with the documented suite: %v", err)
	}
	want := `{"id":"msg_01jd7qk3m5v8x2c4n6p9r0s1t2","from":"+919811112222","text":"Lantern over the harbour नमस्ते 你好 🎉","sent":"2026-11-21T07:06:48.123Z"}`
	if string(pt) != want {
		t.Errorf("plaintext %s\nwant      %s", pt, want)
	}
}

// Ed25519 is deterministic: signing the committed envelope again gives the
// committed signature, which verifies under the RFC 8032 public key.
func TestSignatureKnownAnswer(t *testing.T) {
	k := loadKAT(t)
	env := k.envelope()
	if !Verify(k.Ed25519.Public, env) {
		t.Fatal("the committed signature does not verify")
	}
	env.Signature = nil
	k.identity(t).Sign(&env)
	if !bytes.Equal(env.Signature, k.Envelope.Signature) {
		t.Errorf("signature %x\nwant      %x", env.Signature, []byte(k.Envelope.Signature))
	}
}

func TestSignedBytesEncoding(t *testing.T) {
	sent := time.Date(2026, 11, 21, 7, 6, 48, 123_000_000, time.UTC)
	env := api.Envelope{ID: "msg_a", FromDevice: "dev_b", ToDevice: "dev_cc", Sent: sent, Sealed: []byte{1, 2, 3}, Signature: []byte("ignored")}
	var want []byte
	want = append(want, "candor/message-signature/v1\x00"...)
	want = append(want, 0, 0, 0, 5)
	want = append(want, "msg_a"...)
	want = append(want, 0, 0, 0, 5)
	want = append(want, "dev_b"...)
	want = append(want, 0, 0, 0, 6)
	want = append(want, "dev_cc"...)
	want = binary.BigEndian.AppendUint64(want, uint64(sent.UnixNano()))
	want = append(want, 0, 0, 0, 3, 1, 2, 3)
	if got := SignedBytes(env); !bytes.Equal(got, want) {
		t.Fatalf("signed bytes\n got %x\nwant %x", got, want)
	}
	// The signature itself is not covered, and the time zone does not
	// matter.
	env2 := env
	env2.Signature = nil
	env2.Sent = sent.In(time.FixedZone("IST", 5*3600+1800))
	if !bytes.Equal(SignedBytes(env2), want) {
		t.Error("signed bytes depend on the signature or the time zone")
	}
}

// fieldChanges change one signed field of an envelope each, keeping the
// others; moving bytes between fields is one of them.
var fieldChanges = map[string]func(e *api.Envelope){
	"id":          func(e *api.Envelope) { e.ID += "d" },
	"from/to":     func(e *api.Envelope) { e.FromDevice, e.ToDevice = e.FromDevice+"d", e.ToDevice[1:] },
	"to":          func(e *api.Envelope) { e.ToDevice += "d" },
	"sent":        func(e *api.Envelope) { e.Sent = e.Sent.Add(time.Millisecond) },
	"sealed":      func(e *api.Envelope) { e.Sealed[len(e.Sealed)/2] ^= 1 },
	"sealed size": func(e *api.Envelope) { e.Sealed = e.Sealed[:len(e.Sealed)-1] },
}

// Any change to a signed field, or to the signature, fails verification.
func TestTamperedEnvelopeFailsToVerify(t *testing.T) {
	k := loadKAT(t)
	for name, change := range fieldChanges {
		env := k.envelope()
		change(&env)
		if Verify(k.Ed25519.Public, env) {
			t.Errorf("changing %s keeps the signature valid", name)
		}
	}
	for i := range len(k.Envelope.Signature) * 8 {
		env := k.envelope()
		env.Signature[i/8] ^= 1 << (i % 8)
		if Verify(k.Ed25519.Public, env) {
			t.Fatalf("flipping bit %d of the signature keeps it valid", i)
		}
	}
	env := k.envelope()
	other := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	for name, c := range map[string]struct {
		key []byte
		sig []byte
	}{
		"another key":     {other, env.Signature},
		"a short key":     {k.Ed25519.Public[:31], env.Signature},
		"no signature":    {k.Ed25519.Public, nil},
		"short signature": {k.Ed25519.Public, env.Signature[:63]},
	} {
		e := env
		e.Signature = c.sig
		if Verify(c.key, e) {
			t.Errorf("%s verifies", name)
		}
	}
}

// Any change to the sealed bytes, one bit anywhere, a byte cut or added,
// fails to open.
func TestTamperedSealedFailsToOpen(t *testing.T) {
	k := loadKAT(t)
	id := k.identity(t)
	sealed := k.Envelope.Sealed
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 1 << (i % 8)
		if _, err := id.Open(b); err == nil {
			t.Fatalf("flipping a bit of byte %d of %d opens", i, len(sealed))
		}
	}
	for name, b := range map[string][]byte{
		"cut":   sealed[:len(sealed)-1],
		"added": append(bytes.Clone(sealed), 0),
		"empty": nil,
		"enc":   sealed[:1120],
	} {
		if _, err := id.Open(b); err == nil {
			t.Errorf("%s: opens", name)
		}
	}
	env := k.envelope()
	env.Sealed[len(env.Sealed)-1] ^= 1
	if _, err := id.OpenMessage(env); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("OpenMessage of a tampered envelope: %v", err)
	}
}

func TestOpenRefusesOtherKeysAndMismatches(t *testing.T) {
	k := loadKAT(t)
	env := k.envelope()
	if _, err := newIdentity(t).OpenMessage(env); !errors.Is(err, ErrCannotOpen) {
		t.Errorf("another device's key: %v", err)
	}
	sk, _ := KEM().NewPrivateKey(k.HPKEPQ.SKRm)
	if _, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("candor/other/v1"), env.Sealed); err == nil {
		t.Error("the envelope opened under another info string")
	}
	id := k.identity(t)
	for name, change := range map[string]func(e *api.Envelope){
		"id":   func(e *api.Envelope) { e.ID = "msg_other" },
		"sent": func(e *api.Envelope) { e.Sent = e.Sent.Add(time.Second) },
	} {
		e := k.envelope()
		change(&e)
		if _, err := id.OpenMessage(e); !errors.Is(err, ErrMismatch) {
			t.Errorf("an envelope whose %s differs from its message's: %v", name, err)
		}
	}
	kem, _ := id.PublicKeys()
	sealed, err := Seal(kem, []byte("not json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := id.OpenMessage(api.Envelope{Sealed: sealed}); !errors.Is(err, ErrMalformed) {
		t.Errorf("a plaintext that is not a message: %v", err)
	}
}

func TestKeys(t *testing.T) {
	kem, sign, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(kem) != 32 || len(sign) != ed25519.SeedSize {
		t.Fatalf("private keys of %d and %d bytes", len(kem), len(sign))
	}
	id, err := NewIdentity(kem, sign)
	if err != nil {
		t.Fatal(err)
	}
	pubKEM, pubSign := id.PublicKeys()
	if len(pubKEM) != 1216 || len(pubSign) != ed25519.PublicKeySize || CheckPublicKeys(pubKEM, pubSign) != nil {
		t.Fatalf("public keys of %d and %d bytes", len(pubKEM), len(pubSign))
	}
	if err := CheckPublicKeys(pubKEM[:1215], pubSign); !candor.Is(err, candor.Invalid) {
		t.Errorf("a short KEM key: %v", err)
	}
	if err := CheckPublicKeys(pubKEM, pubSign[:31]); !candor.Is(err, candor.Invalid) {
		t.Errorf("a short signing key: %v", err)
	}
	if _, err := NewIdentity(kem[:31], sign); !candor.Is(err, candor.Integrity) {
		t.Errorf("a damaged KEM key: %v", err)
	}
	if _, err := NewIdentity(kem, sign[:31]); !candor.Is(err, candor.Integrity) {
		t.Errorf("a damaged signing seed: %v", err)
	}
	if _, err := Seal(pubKEM[:100], []byte("x")); !candor.Is(err, candor.Invalid) {
		t.Errorf("sealing to a malformed key: %v", err)
	}
}

func newIdentity(t testing.TB) *Identity {
	t.Helper()
	kem, sign, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(kem, sign)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// FuzzRoundTrip seals and signs any message to a device and checks that it
// verifies and opens to the same message, and that flipping any one bit of
// the sealed bytes or the signature is caught.
func FuzzRoundTrip(f *testing.F) {
	k := loadKAT(f)
	f.Add(k.Message.ID, k.Message.From, k.Message.Text, k.Message.Sent.UnixNano(), uint16(0))
	f.Add("msg_x", "+15550000000", "", int64(0), uint16(1119))
	f.Add("", "", "😀 \x00 \"quoted\" <&>", int64(-1), uint16(65535))
	from, to := k.identity(f), newIdentity(f)
	toKEM, _ := to.PublicKeys()
	_, fromSign := from.PublicKeys()
	f.Fuzz(func(t *testing.T, id, number, text string, sent int64, flip uint16) {
		if !utf8.ValidString(id) || !utf8.ValidString(number) || !utf8.ValidString(text) {
			return // JSON would carry them as U+FFFD: the phone sends only UTF-8
		}
		m := Message{ID: id, From: number, Text: text, Sent: time.Unix(0, sent).UTC()}
		envs, err := from.SealMessage("dev_from", m, []api.DeviceKeys{{Device: "dev_to", HPKE: toKEM}})
		if err != nil {
			t.Fatal(err)
		}
		env := envs[0]
		if !Verify(fromSign, env) {
			t.Fatal("the signature does not verify")
		}
		got, err := to.OpenMessage(env)
		if err != nil || got.ID != m.ID || got.From != m.From || got.Text != m.Text || !got.Sent.Equal(m.Sent) {
			t.Fatalf("opened %+v, %v; want %+v", got, err, m)
		}
		bit := int(flip) % (8 * len(env.Sealed))
		bad := env
		bad.Sealed = bytes.Clone(env.Sealed)
		bad.Sealed[bit/8] ^= 1 << (bit % 8)
		if _, err := to.OpenMessage(bad); !errors.Is(err, ErrCannotOpen) {
			t.Fatalf("flipping bit %d of the sealed bytes: %v", bit, err)
		}
		if Verify(fromSign, bad) {
			t.Fatalf("flipping bit %d of the sealed bytes keeps the signature valid", bit)
		}
		bit = int(flip) % (8 * len(env.Signature))
		bad = env
		bad.Signature = bytes.Clone(env.Signature)
		bad.Signature[bit/8] ^= 1 << (bit % 8)
		if Verify(fromSign, bad) {
			t.Fatalf("flipping bit %d of the signature keeps it valid", bit)
		}
	})
}
