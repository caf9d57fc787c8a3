// Package vcard21 reads what a phone shows of a vCard 2.1 card: its name,
// phone numbers and email addresses.
//
// vCard 2.1 is what Android's contacts app, Outlook and older phones still
// export, and it differs from 3.0 and 4.0 (which github.com/emersion/go-vcard
// reads, and which stay with it) in ways that hide a card's content from a
// 3.0 reader:
//
//   - Parameters may be bare: TEL;CELL;PREF: and EMAIL;INTERNET: mean
//     TYPE=CELL and TYPE=INTERNET. ENCODING and CHARSET may be bare too
//     (;QUOTED-PRINTABLE).
//   - ENCODING=QUOTED-PRINTABLE values (RFC 2045) may continue over several
//     physical lines with soft line breaks: a line ending in "=" goes on at
//     the start of the next line, with no leading space.
//   - CHARSET= names the character set of a value: UTF-8 (what Android
//     writes) or a legacy one such as ISO-8859-1, windows-1252, Shift_JIS or
//     KOI8-R, by its WHATWG label (golang.org/x/text/encoding/htmlindex).
//     A value without CHARSET must be UTF-8 (a superset of the ASCII that
//     2.1 assumes).
//   - Only ";" is escaped (as "\;") in values; "\," is read as "," too.
//
// The package only reads. It never changes a card: callers keep and sync
// the card's original bytes.
//
// Errors name a line of the card and what is wrong with it, never the
// card's content.
package vcard21

import (
	"bytes"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
)

// Card is what a phone shows of one card.
type Card struct {
	// Name is FN or, if FN is empty or absent, N as "prefix given
	// additional family suffix", on one line with single spaces.
	Name string
	// Phones are the TEL values, in the card's order, trimmed.
	Phones []string
	// Emails are the EMAIL values, in the card's order, trimmed.
	Emails []string
}

// Version returns the value of the first VERSION property of one card (of
// the card itself, not of one nested in it as an AGENT), trimmed, or "" if
// there is none before the first line that cannot be read. It reads lines
// with the rules of 2.1, which for a 3.0 or 4.0 card are those of 3.0 and
// 4.0 (neither has quoted-printable values). It does not check the rest of
// the card: see Decode.
func Version(card []byte) string {
	var version string
	found := false
	scan(card, func(p property) error {
		if p.depth == 1 && p.name == "VERSION" && !found {
			version, found = strings.TrimSpace(string(p.value)), true
		}
		return nil
	})
	return version
}

// Decode reads one card, from its BEGIN:VCARD line to its END:VCARD line.
// It fails if a line is malformed, if a text value is not valid in its
// character set (or names one this package does not know), or if anything
// other than blank lines surrounds the card. Every text property is
// checked, not only those it returns, so that a card Decode accepts is one
// a phone can show. Binary values (ENCODING=BASE64, such as a PHOTO) are
// skipped. Properties of a card nested as an AGENT are not the card's.
func Decode(card []byte) (Card, error) {
	c := Card{Phones: []string{}, Emails: []string{}}
	var fn, n string
	err := scan(card, func(p property) error {
		if p.binary() {
			return nil
		}
		v, err := p.text()
		if err != nil {
			return err
		}
		if p.depth != 1 {
			return nil
		}
		switch p.name {
		case "FN":
			if fn == "" {
				fn = oneLine(unescape(v))
			}
		case "N":
			if n == "" {
				n = structuredName(v)
			}
		case "TEL":
			if t := strings.TrimSpace(unescape(v)); t != "" {
				c.Phones = append(c.Phones, t)
			}
		case "EMAIL":
			if e := strings.TrimSpace(unescape(v)); e != "" {
				c.Emails = append(c.Emails, e)
			}
		}
		return nil
	})
	if err != nil {
		return Card{}, err
	}
	c.Name = fn
	if c.Name == "" {
		c.Name = n
	}
	return c, nil
}

// property is one logical line of a card.
type property struct {
	line     int    // the physical line it starts on, from 1
	depth    int    // 1 for the card's own properties, more inside an AGENT
	name     string // upper case, without its group
	encoding string // upper case; "" when none is named
	charset  string // as written; "" when none is named
	value    []byte // as written, unfolded, soft line breaks removed
}

// binary reports whether the value is binary data rather than text.
func (p property) binary() bool {
	return p.encoding == "BASE64" || p.encoding == "B"
}

// text returns the value as UTF-8: quoted-printable decoded, then
// converted from its character set.
func (p property) text() (string, error) {
	raw := p.value
	switch p.encoding {
	case "", "7BIT", "8BIT":
	case "QUOTED-PRINTABLE":
		b, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return "", p.errorf("has malformed quoted-printable text")
		}
		raw = b
	default:
		return "", p.errorf("has an unknown encoding")
	}
	if p.charset == "" {
		if !utf8.Valid(raw) {
			return "", p.errorf("is not UTF-8 text and names no character set")
		}
		return string(raw), nil
	}
	enc, err := htmlindex.Get(p.charset)
	if err != nil {
		return "", p.errorf("names a character set this phone does not know")
	}
	switch name, _ := htmlindex.Name(enc); name {
	case "utf-8":
		if !utf8.Valid(raw) {
			return "", p.errorf("is not valid in its character set")
		}
		return string(raw), nil
	case "replacement":
		return "", p.errorf("names a character set this phone does not know")
	}
	b, err := enc.NewDecoder().Bytes(raw)
	if err != nil || !utf8.Valid(b) {
		return "", p.errorf("is not valid in its character set")
	}
	return string(b), nil
}

func (p property) errorf(problem string) error { return &Error{Line: p.line, Problem: problem} }

// Error is what is wrong with a card. Problem never holds the card's
// content, so that it can be shown to a person or logged.
type Error struct {
	Line    int    // the card's line it is about, from 1; 0 for the card as a whole
	Problem string // e.g. "is not UTF-8 text and names no character set"
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "vcard21: the card " + e.Problem
	}
	return fmt.Sprintf("vcard21: line %d %s", e.Line, e.Problem)
}

// scan calls fn with each property of card between its BEGIN:VCARD and
// END:VCARD lines (BEGIN and END of a nested card included), in order,
// and stops at fn's first error.
func scan(card []byte, fn func(property) error) error {
	lines := physicalLines(card)
	depth, ended := 0, false
	for i := 0; i < len(lines); {
		start := i
		l := lines[i]
		i++
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if ended {
			return &Error{Line: start + 1, Problem: "is after END:VCARD"}
		}
		// The header (name and parameters) ends at the first colon; a
		// folded line may continue it.
		colon := bytes.IndexByte(l, ':')
		for colon < 0 && i < len(lines) && folded(lines[i]) {
			l = append(bytes.Clone(l), lines[i][1:]...)
			i++
			colon = bytes.IndexByte(l, ':')
		}
		if colon < 0 {
			return &Error{Line: start + 1, Problem: "has no colon"}
		}
		p := property{line: start + 1}
		if err := p.parseHeader(string(l[:colon])); err != nil {
			return err
		}
		value := bytes.Clone(l[colon+1:])
	more:
		for ; i < len(lines); i++ {
			next := lines[i]
			switch {
			case p.encoding == "QUOTED-PRINTABLE" && bytes.HasSuffix(value, []byte("=")) && !isEnd(next):
				// A soft line break: the value goes on at the start of
				// the next line, whatever that line begins with.
				value = append(value[:len(value)-1], next...)
			case folded(next):
				value = append(value, next[1:]...)
			default:
				break more
			}
		}
		p.value = value
		switch {
		case p.name == "BEGIN" && strings.EqualFold(strings.TrimSpace(string(value)), "VCARD"):
			depth++
			p.depth = depth
		case p.name == "END" && strings.EqualFold(strings.TrimSpace(string(value)), "VCARD"):
			if depth == 0 {
				return &Error{Line: start + 1, Problem: "ends a card that was not begun"}
			}
			p.depth = depth
			depth--
			ended = depth == 0
		case depth == 0:
			return &Error{Line: start + 1, Problem: "is outside the card"}
		default:
			p.depth = depth
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if !ended {
		return &Error{Problem: "has no END:VCARD"}
	}
	return nil
}

// physicalLines splits b at line breaks (CRLF or LF), without them.
func physicalLines(b []byte) [][]byte {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return lines
}

// folded reports whether a physical line continues the one before it.
func folded(l []byte) bool { return len(l) > 0 && (l[0] == ' ' || l[0] == '\t') }

func isEnd(l []byte) bool { return strings.EqualFold(string(bytes.TrimSpace(l)), "END:VCARD") }

// parseHeader reads "[group.]NAME[;param]...", where a param is KEY=VALUE
// or, in 2.1, a bare VALUE.
func (p *property) parseHeader(h string) error {
	parts := strings.Split(h, ";")
	name := strings.TrimSpace(parts[0])
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		return p.errorf("has no property name")
	}
	p.name = strings.ToUpper(name)
	for _, param := range parts[1:] {
		key, value, hasKey := strings.Cut(strings.TrimSpace(param), "=")
		key, value = strings.ToUpper(strings.TrimSpace(key)), strings.TrimSpace(value)
		if !hasKey {
			key, value = "", key
		}
		switch {
		case key == "ENCODING":
			p.encoding = strings.ToUpper(strings.Trim(value, `"`))
		case key == "CHARSET":
			p.charset = strings.Trim(value, `"`)
		case key == "" && isEncoding(value):
			p.encoding = value
		}
	}
	return nil
}

func isEncoding(v string) bool {
	switch v {
	case "QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT":
		return true
	}
	return false
}

// unescape reads the escapes of a 2.1 value: "\;" and (as many writers
// put it) "\,". Any other backslash is the character itself.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\;`, ";", `\,`, ",").Replace(s)
}

// oneLine puts s on one line with single spaces.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// structuredName reads N (family;given;additional;prefix;suffix) as the
// name a person is called by.
func structuredName(v string) string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && (v[i+1] == ';' || v[i+1] == ','):
			cur.WriteByte(v[i+1])
			i++
		case v[i] == ';':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	parts = append(parts, cur.String())
	for len(parts) < 5 {
		parts = append(parts, "")
	}
	return oneLine(strings.Join([]string{parts[3], parts[1], parts[2], parts[0], parts[4]}, " "))
}
