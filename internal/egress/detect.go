package egress

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode/utf16"
)

// Kind says how a canary is normalised before it is encoded.
type Kind int

const (
	// Text is searched as given, lowercase and uppercase.
	Text Kind = iota
	// Phone is an E.164 number: searched as given, without the plus, and as
	// its last ten digits (the national number).
	Phone
	// Email is searched as given, lowercase and uppercase.
	Email
	// Binary is searched exactly as given (a file's bytes).
	Binary
)

// A Canary is one item of synthetic personal data seeded on a phone: it must
// never be found where the policy does not allow it. Values should be
// unique random-looking strings so that a match is never a coincidence.
type Canary struct {
	Item  string // what it is, as reports name it: "IMEI", "contact phone"
	Value []byte
	Kind  Kind
}

// A Form is one way a canary may travel: its bytes and a name for reports,
// such as "sha256 hex" or "base64, without +".
type Form struct {
	Name  string
	Bytes []byte
}

// minForm is the shortest form searched: shorter fragments could match by
// chance.
const minForm = 6

// Forms returns every form a canary is searched in, plain forms first,
// without duplicates and without forms shorter than six bytes.
func Forms(c Canary) []Form {
	var out []Form
	seen := map[string]bool{}
	add := func(name string, b []byte) {
		if len(b) < minForm || seen[string(b)] {
			return
		}
		seen[string(b)] = true
		out = append(out, Form{Name: name, Bytes: b})
	}
	for _, v := range variants(c) {
		suffix := ""
		if v.name != "" {
			suffix = ", " + v.name
		}
		s := string(v.value)
		add("plain"+suffix, v.value)
		add("url-encoded"+suffix, []byte(url.QueryEscape(s)))
		add("url-encoded"+suffix, []byte(url.PathEscape(s)))
		add("hex"+suffix, []byte(hex.EncodeToString(v.value)))
		add("hex"+suffix, []byte(strings.ToUpper(hex.EncodeToString(v.value))))
		for _, e := range []struct {
			name string
			enc  *base64.Encoding
		}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
			for _, frag := range base64Fragments(e.enc, v.value) {
				add(e.name+suffix, frag)
			}
		}
		m, s1, s2 := md5.Sum(v.value), sha1.Sum(v.value), sha256.Sum256(v.value)
		for _, d := range []struct {
			name string
			sum  []byte
		}{{"md5", m[:]}, {"sha1", s1[:]}, {"sha256", s2[:]}} {
			add(d.name+" hex"+suffix, []byte(hex.EncodeToString(d.sum)))
			add(d.name+" hex"+suffix, []byte(strings.ToUpper(hex.EncodeToString(d.sum))))
			add(d.name+" raw"+suffix, d.sum)
			add(d.name+" base64"+suffix, []byte(base64.RawStdEncoding.EncodeToString(d.sum)))
			add(d.name+" base64url"+suffix, []byte(base64.RawURLEncoding.EncodeToString(d.sum)))
		}
	}
	return out
}

type variant struct {
	name  string
	value []byte
}

// variants returns the normalised spellings of a canary.
func variants(c Canary) []variant {
	v := []variant{{"", c.Value}}
	s := string(c.Value)
	switch c.Kind {
	case Text, Email:
		v = append(v, variant{"lowercase", []byte(strings.ToLower(s))}, variant{"uppercase", []byte(strings.ToUpper(s))})
		if ascii := jsonASCII(s); ascii != s {
			v = append(v, variant{"json \\u-escaped", []byte(ascii)})
		}
	case Phone:
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		v = append(v, variant{"digits only", []byte(digits)})
		if len(digits) > 10 {
			cc, national := digits[:len(digits)-10], digits[len(digits)-10:]
			v = append(v, variant{"national number", []byte(national)})
			// As people and phones write it: "+91 98765 43210",
			// "98765-43210", "(987) 654-3210".
			for _, sep := range []string{" ", "-", "."} {
				v = append(v,
					variant{"grouped", []byte("+" + cc + sep + national)},
					variant{"grouped", []byte(national[:5] + sep + national[5:])},
					variant{"grouped", []byte(national[:3] + sep + national[3:6] + sep + national[6:])})
			}
			v = append(v, variant{"grouped", []byte("(" + national[:3] + ") " + national[3:6] + "-" + national[6:])})
		}
	}
	return v
}

// jsonASCII writes s as JSON does with every non-ASCII character escaped
// (\u0928, surrogate pairs beyond the BMP), without the quotes.
func jsonASCII(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, "\\u%04x\\u%04x", r1, r2)
		}
	}
	return b.String()
}

// base64Fragments returns, for each of the three byte alignments a value
// may have inside a larger base64 text, the characters that encode only the
// value's bits: a base64 blob holding the value at any offset contains one
// of them.
func base64Fragments(enc *base64.Encoding, value []byte) [][]byte {
	var out [][]byte
	for k := 0; k < 3; k++ {
		buf := make([]byte, k+len(value))
		copy(buf[k:], value)
		s := enc.EncodeToString(buf)
		start := (8*k + 5) / 6          // first character wholly inside the value
		end := 8 * (k + len(value)) / 6 // last character wholly inside, exclusive
		if end > len(s) {
			end = len(s)
		}
		if start < end {
			out = append(out, []byte(s[start:end]))
		}
	}
	return out
}

// A Detector searches bytes for a fixed set of canaries in all their forms.
// It is safe for concurrent use.
type Detector struct {
	canaries []Canary
	forms    [][]Form
}

// NewDetector precomputes the forms of canaries.
func NewDetector(canaries []Canary) *Detector {
	d := &Detector{canaries: canaries}
	for _, c := range canaries {
		d.forms = append(d.forms, Forms(c))
	}
	return d
}

// A Match is one canary found in some bytes, in the first of its forms that
// matched.
type Match struct {
	Item string `json:"item"`
	Form string `json:"form"`
}

// Search returns the canaries found in b, in the order the canaries were
// given, each in every form it appears in. A form's occurrences are masked
// before the next forms are searched, so a form found only inside another
// (the number without its plus, inside the number) is not reported twice,
// while a second, separate copy in another form (a hash beside the plain
// value) is.
func (d *Detector) Search(b []byte) []Match {
	var out []Match
	for i, c := range d.canaries {
		buf := b
		for _, f := range d.forms[i] {
			if !bytes.Contains(buf, f.Bytes) {
				continue
			}
			out = append(out, Match{Item: c.Item, Form: f.Name})
			buf = bytes.ReplaceAll(buf, f.Bytes, make([]byte, len(f.Bytes)))
		}
	}
	return out
}

// A Finding is a canary found in a recorded request.
type Finding struct {
	Match
	Where  string `json:"where"` // "path", "query", "header X-Foo", "body"
	Method string `json:"method"`
	Path   string `json:"path"`
	// Allowed, when not empty, is the policy's reason why this finding is
	// not a violation.
	Allowed string `json:"allowed,omitempty"`
}

// Scan searches every part of a request: the path and the query (as sent
// and unescaped), each header and trailer value and the body (for a
// WebSocket message, its payload).
func (d *Detector) Scan(r Request) []Finding {
	var out []Finding
	seen := map[string]bool{}  // item, form and location reported
	found := map[string]bool{} // item and location reported
	add := func(where string, ms []Match, again bool) {
		for _, m := range ms {
			if !again && found[m.Item+"\x00"+where] {
				continue // the same copy, seen before it was unescaped
			}
			if k := m.Item + "\x00" + m.Form + "\x00" + where; !seen[k] {
				seen[k], found[m.Item+"\x00"+where] = true, true
				out = append(out, Finding{Match: m, Where: where, Method: r.Method, Path: r.Path})
			}
		}
	}
	add("path", d.Search([]byte(r.Path)), true)
	if p, err := url.PathUnescape(r.Path); err == nil && p != r.Path {
		add("path", d.Search([]byte(p)), false)
	}
	add("query", d.Search([]byte(r.Query)), true)
	if q, err := url.QueryUnescape(r.Query); err == nil && q != r.Query {
		add("query", d.Search([]byte(q)), false)
	}
	for name, vals := range r.Header {
		for _, v := range vals {
			add("header "+name, d.Search([]byte(v)), true)
		}
	}
	for name, vals := range r.Trailer {
		for _, v := range vals {
			add("trailer "+name, d.Search([]byte(v)), true)
		}
	}
	body := "body"
	if r.Method == "WEBSOCKET" {
		body = "WebSocket message"
	}
	add(body, d.Search(r.Body), true)
	if plain, ok := inflate(r.Body); ok {
		add(body+" (decompressed)", d.Search(plain), true)
	}
	return out
}

// inflate decompresses a gzip or zlib body (by its magic bytes, whatever the
// headers say), up to maxRecordedBody; ok is false if b is neither.
func inflate(b []byte) ([]byte, bool) {
	var r io.Reader
	switch {
	case len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, false
		}
		r = zr
	case len(b) > 2 && b[0] == 0x78 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0:
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, false
		}
		r = zr
	default:
		return nil, false
	}
	out, _ := io.ReadAll(io.LimitReader(r, maxRecordedBody)) // what inflated before an error still counts
	return out, len(out) > 0
}
