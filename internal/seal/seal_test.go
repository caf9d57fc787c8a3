package seal

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/candorcloud/candor"
)

func testKey(t *testing.T) Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t)
	ad := AD("candor/record/v1", "acc_x", "contacts", "rec_1", "3")
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("Quillfeather "), 10000)} {
		ct := k.Seal(pt, ad)
		if len(ct) != len(pt)+Overhead {
			t.Fatalf("ciphertext length %d, want %d", len(ct), len(pt)+Overhead)
		}
		// (A one-byte plaintext is found in random bytes one time in ten:
		// only look for what cannot appear by chance.)
		if len(pt) >= 8 && bytes.Contains(ct, pt[:1+len(pt)/2]) {
			t.Fatal("plaintext visible in ciphertext")
		}
		got, err := k.Open(ct, ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

func TestNoncesDiffer(t *testing.T) {
	k := testKey(t)
	a, b := k.Seal([]byte("same"), nil), k.Seal([]byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

// Every flipped bit, a truncation, and every change of associated data must
// be an integrity error — never returned as data.
func TestTamperIsIntegrityError(t *testing.T) {
	k := testKey(t)
	ad := AD("candor/record/v1", "acc_a", "notes", "rec_1", "1")
	ct := k.Seal([]byte("Marmalade-ledger"), ad)
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		if _, err := k.Open(bad, ad); !candor.Is(err, candor.Integrity) {
			t.Fatalf("flipped byte %d: err = %v, want integrity", i, err)
		}
	}
	if _, err := k.Open(ct[:len(ct)-1], ad); !candor.Is(err, candor.Integrity) {
		t.Fatalf("truncated: %v", err)
	}
	for _, other := range [][]byte{
		AD("candor/record/v1", "acc_b", "notes", "rec_1", "1"),    // another account
		AD("candor/record/v1", "acc_a", "contacts", "rec_1", "1"), // another category
		AD("candor/record/v1", "acc_a", "notes", "rec_2", "1"),    // another record
		AD("candor/record/v1", "acc_a", "notes", "rec_1", "2"),    // another version
	} {
		if _, err := k.Open(ct, other); !candor.Is(err, candor.Integrity) {
			t.Fatalf("opened under other associated data: %v", err)
		}
	}
	other, _ := NewKey(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(ct, ad); !candor.Is(err, candor.Integrity) {
		t.Fatalf("opened under another key: %v", err)
	}
}

func TestADUnambiguous(t *testing.T) {
	if bytes.Equal(AD("ab", "c"), AD("a", "bc")) {
		t.Fatal("AD is ambiguous")
	}
	if got := hex.EncodeToString(AD("a", "")); got != "000000016100000000" {
		t.Fatalf("AD encoding changed: %s", got)
	}
}

// A known-answer vector pins the format (version byte, nonce, GCM with AD),
// so data sealed by one release opens in the next.
func TestKnownAnswer(t *testing.T) {
	k := testKey(t)
	vector, _ := hex.DecodeString("0100000000000000000000000002b9cad694e0fc84c4bb0b186cdd17e0003870a81069")
	got, err := k.Open(vector, AD("kat"))
	if err != nil || string(got) != "candor" {
		t.Fatalf("known-answer vector: %q, %v", got, err)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := NewKey(bytes.Repeat([]byte{7}, KeySize))
	f.Add(k.Seal([]byte("hello"), nil))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if pt, err := k.Open(b, nil); err == nil && pt == nil && len(b) != Overhead {
			t.Fatal("opened garbage")
		}
	})
}

func TestStream(t *testing.T) {
	key := bytes.Repeat([]byte{9}, KeySize)
	s, err := NewStream(key, []byte("blob-1"))
	if err != nil {
		t.Fatal(err)
	}
	pt := bytes.Repeat([]byte("0123456789abcdef"), 3*SegmentSize/16+100) // 3 full segments and a tail
	n := Segments(int64(len(pt)))
	if n != 4 || SealedSize(int64(len(pt))) != int64(len(pt))+4*SegmentOverhead {
		t.Fatalf("segments %d", n)
	}
	var sealed [][]byte
	for i := int64(0); i < n; i++ {
		seg := pt[i*SegmentSize : min((i+1)*SegmentSize, int64(len(pt)))]
		sealed = append(sealed, s.Seal(nil, i, i == n-1, seg))
	}
	var got []byte
	for i, ct := range sealed {
		if got, err = s.Open(got, int64(i), int64(i) == n-1, ct); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	if !bytes.Equal(got, pt) {
		t.Fatal("round trip differs")
	}
	other, _ := NewStream(key, []byte("blob-2"))
	bad := bytes.Clone(sealed[1])
	bad[5] ^= 1
	for name, try := range map[string]func() error{
		"flipped byte":         func() error { _, err := s.Open(nil, 1, false, bad); return err },
		"swapped segments":     func() error { _, err := s.Open(nil, 1, false, sealed[2]); return err },
		"truncated (no final)": func() error { _, err := s.Open(nil, 2, true, sealed[2]); return err },
		"final flag dropped":   func() error { _, err := s.Open(nil, 3, false, sealed[3]); return err },
		"another blob":         func() error { _, err := other.Open(nil, 0, false, sealed[0]); return err },
	} {
		if err := try(); !candor.Is(err, candor.Integrity) {
			t.Errorf("%s: %v", name, err)
		}
	}
	empty := s.Seal(nil, 0, true, nil)
	if pt, err := s.Open(nil, 0, true, empty); err != nil || len(pt) != 0 || Segments(0) != 1 {
		t.Fatalf("empty blob: %v", err)
	}
}
