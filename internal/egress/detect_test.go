package egress

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

var testCanaries = []Canary{
	{Item: "IMEI", Value: []byte("358240051111110"), Kind: Text},
	{Item: "phone number", Value: []byte("+919812345678"), Kind: Phone},
	{Item: "contact email", Value: []byte("Wren.Q7x@Example.invalid"), Kind: Email},
	{Item: "note text", Value: []byte("Marmalade ledger zq81 नमस्ते"), Kind: Text},
	{Item: "photo", Value: []byte("\xff\xd8\xff\xe0PHOTO-k2j4\x00\x01\x02\xff\xd9"), Kind: Binary},
}

// encodings returns every way a test wraps a canary's value in a request,
// with the form name the detector must report.
func encodings(v []byte) map[string][]byte {
	s := string(v)
	m, s1, s2 := md5.Sum(v), sha1.Sum(v), sha256.Sum256(v)
	out := map[string][]byte{
		"plain":               v,
		"query escape":        []byte(url.QueryEscape(s)),
		"path escape":         []byte(url.PathEscape(s)),
		"hex":                 []byte(hex.EncodeToString(v)),
		"HEX":                 []byte(strings.ToUpper(hex.EncodeToString(v))),
		"base64 std":          []byte(base64.StdEncoding.EncodeToString(v)),
		"base64 url":          []byte(base64.URLEncoding.EncodeToString(v)),
		"base64 raw std":      []byte(base64.RawStdEncoding.EncodeToString(v)),
		"base64 raw url":      []byte(base64.RawURLEncoding.EncodeToString(v)),
		"md5 hex":             []byte(hex.EncodeToString(m[:])),
		"sha1 hex":            []byte(hex.EncodeToString(s1[:])),
		"sha256 hex":          []byte(hex.EncodeToString(s2[:])),
		"SHA256 HEX":          []byte(strings.ToUpper(hex.EncodeToString(s2[:]))),
		"sha256 raw":          s2[:],
		"sha256 base64":       []byte(base64.StdEncoding.EncodeToString(s2[:])),
		"md5 base64url":       []byte(base64.URLEncoding.EncodeToString(m[:])),
		"lowercase":           []byte(strings.ToLower(s)),
		"uppercase":           []byte(strings.ToUpper(s)),
		"sha256 of lowercase": func() []byte { h := sha256.Sum256([]byte(strings.ToLower(s))); return []byte(hex.EncodeToString(h[:])) }(),
	}
	for k := 1; k <= 5; k++ { // inside a larger base64 blob, at every alignment
		blob := append(append([]byte(strings.Repeat("x", k)), v...), "trailing bytes"...)
		out["base64 blob offset "+string(rune('0'+k))] = []byte(base64.StdEncoding.EncodeToString(blob))
		out["base64url blob offset "+string(rune('0'+k))] = []byte(base64.RawURLEncoding.EncodeToString(blob))
	}
	return out
}

// Each encoding of each canary is found, wherever in a request it travels.
func TestDetectorFindsEveryEncoding(t *testing.T) {
	d := NewDetector(testCanaries)
	for _, c := range testCanaries {
		for name, enc := range encodings(c.Value) {
			if c.Kind == Binary && (name == "lowercase" || name == "uppercase" || name == "sha256 of lowercase") {
				continue
			}
			wrapped := append(append([]byte(`{"x":"prefix-`), enc...), `-suffix"}`...)
			if ms := d.Search(wrapped); !hasItem(ms, c.Item) {
				t.Errorf("%s as %s not found", c.Item, name)
			}
		}
	}
}

func TestDetectorPhoneAndEmailNormalisation(t *testing.T) {
	d := NewDetector(testCanaries)
	for _, in := range []string{"919812345678", "tel=9812345678", "00919812345678", "num%2B919812345678",
		"+91 9812345678", "98123 45678", "981-234-5678", "(981) 234-5678"} {
		if !hasItem(d.Search([]byte(in)), "phone number") {
			t.Errorf("phone number not found in %q", in)
		}
	}
	h := sha256.Sum256([]byte("919812345678"))
	if ms := d.Search([]byte(hex.EncodeToString(h[:]))); !hasItem(ms, "phone number") || !strings.Contains(ms[0].Form, "digits only") {
		t.Errorf("sha256 of the digits: %v", ms)
	}
	if !hasItem(d.Search([]byte("wren.q7x@example.invalid")), "contact email") {
		t.Error("lowercase email not found")
	}
}

// Scan names where in the request a canary was found.
func TestScanNamesTheLocation(t *testing.T) {
	d := NewDetector(testCanaries)
	h := sha256.Sum256([]byte("358240051111110"))
	r := Request{
		Method: "GET",
		Path:   "/v1/things/" + url.PathEscape("+919812345678"),
		Query:  "e=" + url.QueryEscape("Wren.Q7x@Example.invalid"),
		Header: map[string][]string{"X-Device": {hex.EncodeToString(h[:])}},
		Body:   []byte(base64.StdEncoding.EncodeToString([]byte(`{"note":"Marmalade ledger zq81 नमस्ते"}`))),
	}
	got := map[string]string{}
	for _, f := range d.Scan(r) {
		got[f.Item] = f.Where + " / " + f.Form
	}
	want := map[string]string{
		"IMEI":          "header X-Device / sha256 hex",
		"phone number":  "path / plain",
		"contact email": "query / url-encoded",
		"note text":     "body / base64",
	}
	for item, w := range want {
		if got[item] != w {
			t.Errorf("%s: got %q, want %q", item, got[item], w)
		}
	}
}

// Unrelated data — random bytes in every encoding, JSON, ciphertext-like
// base64 — raises nothing.
func TestDetectorNoFalsePositives(t *testing.T) {
	d := NewDetector(testCanaries)
	for i := 0; i < 200; i++ {
		b := make([]byte, 4096)
		rand.Read(b)
		for name, enc := range encodings(b) {
			if ms := d.Search(enc); len(ms) > 0 {
				t.Fatalf("false positive in random data (%s): %v", name, ms)
			}
		}
	}
	other := []string{
		`{"handle":"9a8b7c","country":"IN","kdf":{"time":3,"memory_kib":65536}}`,
		"GET /v1/consents?region=in-1 HTTP/1.1\r\nUser-Agent: candor/1\r\n",
		"+919812345679 358240051111111 wren.q7y@example.invalid Marmalade ledger zq82",
	}
	for _, s := range other {
		if ms := d.Search([]byte(s)); len(ms) > 0 {
			t.Errorf("false positive in %q: %v", s, ms)
		}
	}
}

func TestBase64FragmentsCoverEveryAlignment(t *testing.T) {
	v := []byte("358240051111110")
	frags := base64Fragments(base64.StdEncoding, v)
	if len(frags) != 3 {
		t.Fatalf("%d fragments", len(frags))
	}
	for k := 0; k < 12; k++ {
		blob := append(append(make([]byte, k), v...), make([]byte, k%4)...)
		enc := base64.StdEncoding.EncodeToString(blob)
		found := false
		for _, f := range frags {
			found = found || strings.Contains(enc, string(f))
		}
		if !found {
			t.Errorf("offset %d: no fragment in %s", k, enc)
		}
	}
}

func hasItem(ms []Match, item string) bool {
	for _, m := range ms {
		if m.Item == item {
			return true
		}
	}
	return false
}

// A value sent twice, plain and hashed, is reported in both forms, so that
// an exception for the plain form cannot hide the hash; a form that is only
// part of another (the number without its plus) is not reported again.
func TestDetectorReportsEverySeparateForm(t *testing.T) {
	d := NewDetector(testCanaries)
	sum := sha256.Sum256([]byte("+919812345678"))
	got := d.Scan(Request{Method: "POST", Path: "/v1/x", Body: []byte(`{"phone":"+919812345678","h":"` + hex.EncodeToString(sum[:]) + `"}`)})
	var forms []string
	for _, f := range got {
		if f.Item == "phone number" {
			forms = append(forms, f.Form)
		}
	}
	if len(forms) != 2 || forms[0] != "plain" || !strings.HasPrefix(forms[1], "sha256") {
		t.Fatalf("forms found: %v, want plain and a sha256 form", forms)
	}
}

// Text with non-ASCII characters is found when JSON escapes them.
func TestDetectorFindsJSONEscapedText(t *testing.T) {
	d := NewDetector(testCanaries)
	b, _ := json.Marshal(map[string]string{"t": "Marmalade ledger zq81 नमस्ते"})
	escaped := strings.NewReplacer("न", `\u0928`, "म", `\u092e`, "स", `\u0938`, "्", `\u094d`, "त", `\u0924`, "े", `\u0947`).Replace(string(b))
	if strings.Contains(escaped, "न") {
		t.Fatal("the test did not escape the text")
	}
	if !hasItem(d.Search([]byte(escaped)), "note text") {
		t.Errorf("note text not found in %s", escaped)
	}
}

// A compressed body is searched once inflated.
func TestDetectorInflatesBodies(t *testing.T) {
	d := NewDetector(testCanaries)
	var gz, zl bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(`{"imei":"358240051111110"}`))
	w.Close()
	z := zlib.NewWriter(&zl)
	z.Write([]byte(`{"imei":"358240051111110"}`))
	z.Close()
	for name, body := range map[string][]byte{"gzip": gz.Bytes(), "zlib": zl.Bytes()} {
		found := false
		for _, f := range d.Scan(Request{Method: "POST", Path: "/v1/x", Body: body}) {
			found = found || (f.Item == "IMEI" && f.Where == "body (decompressed)")
		}
		if !found {
			t.Errorf("the IMEI in a %s body was not found", name)
		}
	}
}
