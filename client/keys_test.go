package client

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"testing"

	"github.com/cloudflare/circl/oprf"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// The known answers below were computed independently of this package:
// the master key with the reference argon2 command line
// (printf '%s' PASSWORD | argon2 0123456789abcdef -id -t 2 -k 64 -p 1 -l 32 -r),
// then HKDF-SHA256 and HMAC-SHA256 with Python's hmac module.
const (
	kaPassword  = "Orchid-Lantern-7731!"
	kaSalt      = "0123456789abcdef"
	kaIMEI      = "356938035643809"
	kaAuthKey   = "38e8a12376aae167cee17f9bbbf9a29baa865604c58fdb10fefe2afd76a76bfd"
	kaDeviceKey = "a3611b7a4b7bc20763fe540f88eea63771c6ef7caf8d9ad1df4ffddef7b5a487"
	kaPseudonym = "8e0dcc47cfa0499d64754ebc728d263a21a78b5beaf151479751a8aeb1e74c8a"
)

var kaKDF = api.KDF{Time: 2, MemoryKiB: 64, Threads: 1}

func TestDeriveSecretsKnownAnswer(t *testing.T) {
	sec, err := deriveSecrets(kaPassword, []byte(kaSalt), kaKDF)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(sec.AuthKey); got != kaAuthKey {
		t.Errorf("auth key = %s, want %s", got, kaAuthKey)
	}
	if got := hex.EncodeToString(sec.DeviceKey); got != kaDeviceKey {
		t.Errorf("device key = %s, want %s", got, kaDeviceKey)
	}
	if got := hex.EncodeToString(devicePseudonym(sec.DeviceKey, kaIMEI)); got != kaPseudonym {
		t.Errorf("pseudonym = %s, want %s", got, kaPseudonym)
	}
	if bytes.Equal(sec.AuthKey, sec.DeviceKey) {
		t.Error("auth key and device key are equal")
	}
}

func TestDeriveSecretsDependsOnEveryInput(t *testing.T) {
	base, _ := deriveSecrets(kaPassword, []byte(kaSalt), kaKDF)
	for name, f := range map[string]func() (secrets, error){
		"password": func() (secrets, error) { return deriveSecrets(kaPassword+"x", []byte(kaSalt), kaKDF) },
		"salt":     func() (secrets, error) { return deriveSecrets(kaPassword, []byte("0123456789abcdeX"), kaKDF) },
		"time": func() (secrets, error) {
			return deriveSecrets(kaPassword, []byte(kaSalt), api.KDF{Time: 3, MemoryKiB: 64, Threads: 1})
		},
		"memory": func() (secrets, error) {
			return deriveSecrets(kaPassword, []byte(kaSalt), api.KDF{Time: 2, MemoryKiB: 72, Threads: 1})
		},
	} {
		s, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(s.AuthKey, base.AuthKey) {
			t.Errorf("changing the %s does not change the auth key", name)
		}
	}
	if _, err := deriveSecrets(kaPassword, []byte("short"), kaKDF); !candor.Is(err, candor.Invalid) {
		t.Errorf("short salt: err = %v, want Invalid", err)
	}
}

// TestPseudonymIsKeyed checks that the IMEI pseudonym is none of the
// unkeyed hashes of the IMEI that can be reversed by searching the
// 15-digit space.
func TestPseudonymIsKeyed(t *testing.T) {
	sec, _ := deriveSecrets(kaPassword, []byte(kaSalt), kaKDF)
	p := devicePseudonym(sec.DeviceKey, kaIMEI)
	for _, in := range []string{kaIMEI, imeiDomain + kaIMEI, "candor/imei/v1" + kaIMEI} {
		s256 := sha256.Sum256([]byte(in))
		s1 := sha1.Sum([]byte(in))
		m5 := md5.Sum([]byte(in))
		s512 := sha512.Sum512([]byte(in))
		for name, h := range map[string][]byte{"sha256": s256[:], "sha1": s1[:], "md5": m5[:], "sha512": s512[:], "sha512/256": s512[:32]} {
			if bytes.Equal(p, h) || bytes.Contains(h, p) || bytes.Contains(p, h) {
				t.Errorf("pseudonym equals the unkeyed %s of %q", name, in)
			}
		}
	}
	if bytes.Contains(p, []byte(kaIMEI)) {
		t.Error("pseudonym contains the IMEI")
	}
	// Another account (another key) gives an unrelated pseudonym.
	other, _ := deriveSecrets("another password", []byte(kaSalt), kaKDF)
	if bytes.Equal(devicePseudonym(other.DeviceKey, kaIMEI), p) {
		t.Error("two accounts give the same phone the same pseudonym")
	}
	if !bytes.Equal(devicePseudonym(sec.DeviceKey, kaIMEI), p) {
		t.Error("pseudonym is not stable")
	}
}

// TestHandleRoundTrip runs the login handle OPRF against a circl server
// and checks the phone's output is the server-side full evaluation of the
// normalized email.
func TestHandleRoundTrip(t *testing.T) {
	key, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := oprf.NewServer(oprf.SuiteRistretto255, key)
	handle := func(email string) []byte {
		h, blinded, err := blindHandle(email)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(blinded, []byte("example")) {
			t.Fatal("the blinded element contains the email")
		}
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(blinded); err != nil {
			t.Fatal(err)
		}
		ev, err := srv.Evaluate(&oprf.EvaluationRequest{Elements: []oprf.Blinded{e}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := ev.Elements[0].MarshalBinaryCompress()
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.finish(out)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a := handle("  Oriel.Quillfeather@Example.Invalid ")
	b := handle("oriel.quillfeather@example.invalid")
	if !bytes.Equal(a, b) {
		t.Error("the handle depends on case or spaces of the email")
	}
	if len(a) != 64 {
		t.Errorf("handle is %d bytes, want 64", len(a))
	}
	want, err := srv.FullEvaluate([]byte(handleDomain + "oriel.quillfeather@example.invalid"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, want) {
		t.Error("the handle is not the server's full evaluation of the normalized email")
	}
	if bytes.Equal(a, handle("someone.else@example.invalid")) {
		t.Error("two emails give one handle")
	}
	h, _, _ := blindHandle("x@example.invalid")
	if _, err := h.finish([]byte("not an element")); !candor.Is(err, candor.Invalid) {
		t.Errorf("malformed evaluation: err = %v, want Invalid", err)
	}
}

func TestCheckKDF(t *testing.T) {
	for _, tc := range []struct {
		k  api.KDF
		ok bool
	}{
		{DefaultKDF, true},
		{MinimumKDF, true},
		{api.KDF{Time: 1, MemoryKiB: 65536, Threads: 4}, false},
		{api.KDF{Time: 3, MemoryKiB: 19455, Threads: 1}, false},
		{api.KDF{Time: 3, MemoryKiB: 65536, Threads: 0}, false},
		{api.KDF{Time: 3, MemoryKiB: 64 << 20, Threads: 4}, false},
		{api.KDF{Time: 1000, MemoryKiB: 65536, Threads: 4}, false},
	} {
		err := checkKDF(tc.k, MinimumKDF)
		if (err == nil) != tc.ok {
			t.Errorf("checkKDF(%+v) = %v, want ok=%v", tc.k, err, tc.ok)
		}
	}
}
