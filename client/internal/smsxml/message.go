package smsxml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The kinds of message: the names of their elements.
const (
	KindSMS = "sms"
	KindMMS = "mms"
)

// Limits on what Decode reads.
const (
	// MaxText is the most bytes one attribute value may hold; only the
	// media data of an MMS part (its data attribute) may be larger.
	MaxText = 256 << 10
	// MaxMessages is the most messages one file may hold.
	MaxMessages = 1_000_000
	// maxAttrs is the most attributes one element may have (the app
	// writes about 40 on an MMS).
	maxAttrs = 1000
)

// Attr is one XML attribute. In JSON it is the array [name, value].
type Attr struct {
	Name  string
	Value string
}

// MarshalJSON writes the attribute as [name, value].
func (a Attr) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode([2]string{a.Name, a.Value}); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads the attribute from [name, value].
func (a *Attr) UnmarshalJSON(b []byte) error {
	var p []string
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if len(p) != 2 {
		return errors.New("an attribute is [name, value]")
	}
	a.Name, a.Value = p[0], p[1]
	return nil
}

// Value returns the value of the attribute name among attrs.
func Value(attrs []Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// IsTextPart reports whether the MMS part with attrs is text: its content
// type (ct) is text/plain, whatever its parameters.
func IsTextPart(attrs []Attr) bool {
	ct, _ := Value(attrs, "ct")
	ct, _, _ = strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/plain")
}

// Message is one message of a file: the Kind of its element, KindSMS or
// KindMMS, the element's attributes, and an MMS's parts and addresses,
// each as its attributes. In JSON it is
//
//	{"kind": "sms"|"mms", "attrs": [[name, value], ...],
//	 "parts": [[[name, value], ...], ...], "addrs": [[[name, value], ...], ...]}
type Message struct {
	Kind  string   `json:"kind"`
	Attrs []Attr   `json:"attrs"`
	Parts [][]Attr `json:"parts,omitempty"`
	Addrs [][]Attr `json:"addrs,omitempty"`
}

// Attr returns the value of the message's attribute name, empty if it has
// none.
func (m *Message) Attr(name string) string {
	v, _ := Value(m.Attrs, name)
	return v
}

// Check reports whether m can be written as an element: a known kind, no
// parts or addresses on an SMS, and attributes with plain XML names, each
// once, at most a thousand on one element.
func (m *Message) Check() error {
	if m.Kind != KindSMS && m.Kind != KindMMS {
		return errors.New("unknown kind")
	}
	if m.Kind == KindSMS && (len(m.Parts) > 0 || len(m.Addrs) > 0) {
		return errors.New("an SMS has no parts or addresses")
	}
	for _, attrs := range append(append([][]Attr{m.Attrs}, m.Parts...), m.Addrs...) {
		if err := checkAttrs(attrs); err != nil {
			return err
		}
	}
	return nil
}

// checkAttrs checks that attrs can be written as one element's attributes.
func checkAttrs(attrs []Attr) error {
	if len(attrs) > maxAttrs {
		return fmt.Errorf("an element has more than %d attributes", maxAttrs)
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if !validName(a.Name) {
			return errors.New("an attribute has a name that is not a plain XML name")
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %s appears twice", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

// validName reports whether s can be written as an attribute name.
func validName(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}
