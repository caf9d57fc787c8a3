package smsxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/candorcloud/candor"
)

// Decoded is one message read from a file, with the line its element
// starts on.
type Decoded struct {
	Message
	Line int
}

var errEncoding = errors.New("not UTF-8")

// Decode reads a whole "SMS Backup & Restore" file (see the package
// documentation). Every message must have a date, a whole number of
// milliseconds since 1970. A malformed file is an Invalid error naming the
// line; a value over MaxText, or more than MaxMessages messages, a TooLarge
// one. No error holds any of the file's text.
func Decode(r io.Reader) ([]Decoded, error) {
	d := xml.NewDecoder(newCharRefFixer(r))
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, errEncoding
	}
	var rd reader
	for {
		line, _ := d.InputPos()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(err, line)
		}
		if err := rd.take(tok, line); err != nil {
			return nil, err
		}
	}
	line, _ := d.InputPos()
	return rd.end(line)
}

// reader builds the messages of a file from its tokens.
type reader struct {
	msgs  []Decoded
	stack []string // open elements
	done  bool     // </smses> seen
}

// children names the elements each element may hold ("" the file).
var children = map[string][]string{
	"":      {"smses"},
	"smses": {KindSMS, KindMMS},
	KindMMS: {"parts", "addrs"},
	"parts": {"part"},
	"addrs": {"addr"},
}

// take takes the token tok, which starts on line.
func (r *reader) take(tok xml.Token, line int) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return r.start(t, line)
	case xml.EndElement:
		name := xmlName(t.Name)
		if len(r.stack) == 0 || r.stack[len(r.stack)-1] != name {
			return bad(line, "</%s> does not close the open element", safeName(name))
		}
		r.stack = r.stack[:len(r.stack)-1]
		if len(r.stack) == 0 {
			r.done = true
		}
	case xml.CharData:
		if text := bytes.TrimLeft(t, " \t\r\n"); len(text) != 0 {
			return bad(line+bytes.Count(t[:len(t)-len(text)], []byte("\n")), "unexpected text outside any attribute")
		}
	}
	return nil
}

// start takes element t: a message is added, a part or address to the
// last message; any element the format does not have there is an error.
func (r *reader) start(t xml.StartElement, line int) error {
	name := xmlName(t.Name)
	parent := ""
	if len(r.stack) > 0 {
		parent = r.stack[len(r.stack)-1]
	}
	attrs, err := attrsOf(t, parent == "parts")
	if err != nil {
		var ce *candor.Error
		if errors.As(err, &ce) {
			return candor.Errorf(ce.Kind, "line %d of the SMS file: %s", line, ce.Message)
		}
		return bad(line, "%v", err)
	}
	switch {
	case parent == "" && r.done:
		return bad(line, "an element after </smses>")
	case parent == "" && name != "smses":
		return bad(line, "the file does not start with <smses>: this is not an SMS Backup & Restore file")
	case !slices.Contains(children[parent], name):
		return bad(line, "unexpected element <%s> in <%s>", safeName(name), parent)
	}
	if err := r.add(name, attrs, line); err != nil {
		return err
	}
	r.stack = append(r.stack, name)
	return nil
}

// add adds what element name holds to the messages.
func (r *reader) add(name string, attrs []Attr, line int) error {
	switch name {
	case KindSMS, KindMMS:
		if len(r.msgs) == MaxMessages {
			return candor.Errorf(candor.TooLarge, "line %d of the SMS file: a file may hold at most %d messages", line, MaxMessages)
		}
		r.msgs = append(r.msgs, Decoded{Message: Message{Kind: name, Attrs: attrs}, Line: line})
	case "part":
		m := &r.msgs[len(r.msgs)-1]
		m.Parts = append(m.Parts, attrs)
	case "addr":
		m := &r.msgs[len(r.msgs)-1]
		m.Addrs = append(m.Addrs, attrs)
	}
	return nil
}

// end checks the file, which ends on line, as a whole and returns its
// messages.
func (r *reader) end(line int) ([]Decoded, error) {
	if len(r.stack) > 0 {
		return nil, bad(line, "the file ends before </%s>", r.stack[len(r.stack)-1])
	}
	if !r.done {
		return nil, candor.E(candor.Invalid, "the SMS file has no <smses> element: this is not an SMS Backup & Restore file")
	}
	for _, m := range r.msgs {
		if _, err := strconv.ParseUint(m.Attr("date"), 10, 63); err != nil {
			return nil, bad(m.Line, "the message has no valid date (milliseconds since 1970)")
		}
	}
	return r.msgs, nil
}

// bad is an Invalid error about a line of the file.
func bad(line int, format string, args ...any) error {
	return candor.Errorf(candor.Invalid, "line %d of the SMS file: "+format, append([]any{line}, args...)...)
}

// syntaxError turns a decoder error into a message that names the line
// (where the token in error starts) and holds none of the file's text.
func syntaxError(err error, line int) error {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		if errors.Is(err, errEncoding) {
			return candor.E(candor.Invalid, "the SMS file must be UTF-8")
		}
		return candor.Wrap(candor.Invalid, "cannot read the SMS file", err)
	}
	msg := se.Msg
	switch {
	case strings.HasPrefix(msg, "invalid character entity"):
		msg = "an & that starts no valid character reference (write & as &amp;)"
	case strings.HasPrefix(msg, "illegal character code"), strings.HasPrefix(msg, "invalid UTF-8"):
	case strings.Contains(msg, "EOF"):
		msg = "the file ends in the middle of an element"
	default:
		msg = "malformed XML (" + msg + ")"
	}
	if len(msg) > 120 {
		msg = msg[:120]
	}
	// line is where the token in error starts: the element, rather than
	// where the decoder noticed (the end of the file, for an unclosed
	// quote).
	return bad(line, "%s", msg)
}

func xmlName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

// safeName is an element name fit for an error message.
func safeName(s string) string {
	if len(s) > 40 || !validName(s) {
		return "?"
	}
	return s
}

// attrsOf returns an element's attributes; media data (the data attribute
// of an MMS part) may exceed MaxText.
func attrsOf(t xml.StartElement, part bool) ([]Attr, error) {
	attrs := make([]Attr, 0, len(t.Attr))
	for _, a := range t.Attr {
		name := xmlName(a.Name)
		if len(a.Value) > MaxText && !(part && name == "data") {
			return nil, candor.Errorf(candor.TooLarge, "a value is larger than %d KiB", MaxText>>10)
		}
		attrs = append(attrs, Attr{name, a.Value})
	}
	if err := checkAttrs(attrs); err != nil {
		return nil, err
	}
	return attrs, nil
}
