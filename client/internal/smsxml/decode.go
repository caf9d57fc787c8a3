package smsxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
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
	var (
		msgs  []Decoded
		stack []string // open elements
		done  bool     // </smses> seen
	)
	for {
		line, _ := d.InputPos()
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, syntaxError(err, line)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := xmlName(t.Name)
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if msgs, err = startElement(msgs, t, parent, done, line); err != nil {
				return nil, err
			}
			stack = append(stack, name)
		case xml.EndElement:
			name := xmlName(t.Name)
			if len(stack) == 0 || stack[len(stack)-1] != name {
				return nil, bad(line, "</%s> does not close the open element", safeName(name))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				done = true
			}
		case xml.CharData:
			if text := bytes.TrimLeft(t, " \t\r\n"); len(text) != 0 {
				return nil, bad(line+bytes.Count(t[:len(t)-len(text)], []byte("\n")), "unexpected text outside any attribute")
			}
		}
	}
	line, _ := d.InputPos()
	if len(stack) > 0 {
		return nil, bad(line, "the file ends before </%s>", stack[len(stack)-1])
	}
	if !done {
		return nil, candor.E(candor.Invalid, "the SMS file has no <smses> element: this is not an SMS Backup & Restore file")
	}
	for _, m := range msgs {
		if _, err := strconv.ParseUint(m.Attr("date"), 10, 63); err != nil {
			return nil, bad(m.Line, "the message has no valid date (milliseconds since 1970)")
		}
	}
	return msgs, nil
}

// startElement takes in element t, opened in parent on line: a message is
// added to msgs, a part or address to the last message; any element the
// format does not have there is an error.
func startElement(msgs []Decoded, t xml.StartElement, parent string, done bool, line int) ([]Decoded, error) {
	name := xmlName(t.Name)
	attrs, err := attrsOf(t, parent == "parts")
	if err != nil {
		var ce *candor.Error
		if errors.As(err, &ce) {
			return nil, candor.Errorf(ce.Kind, "line %d of the SMS file: %s", line, ce.Message)
		}
		return nil, bad(line, "%v", err)
	}
	switch {
	case parent == "" && !done && name == "smses":
	case parent == "smses" && (name == KindSMS || name == KindMMS):
		if len(msgs) == MaxMessages {
			return nil, candor.Errorf(candor.TooLarge, "line %d of the SMS file: a file may hold at most %d messages", line, MaxMessages)
		}
		msgs = append(msgs, Decoded{Message: Message{Kind: name, Attrs: attrs}, Line: line})
	case parent == KindMMS && (name == "parts" || name == "addrs"):
	case parent == "parts" && name == "part":
		m := &msgs[len(msgs)-1]
		m.Parts = append(m.Parts, attrs)
	case parent == "addrs" && name == "addr":
		m := &msgs[len(msgs)-1]
		m.Addrs = append(m.Addrs, attrs)
	case parent == "" && done:
		return nil, bad(line, "an element after </smses>")
	case parent == "":
		return nil, bad(line, "the file does not start with <smses>: this is not an SMS Backup & Restore file")
	default:
		return nil, bad(line, "unexpected element <%s> in <%s>", safeName(name), parent)
	}
	return msgs, nil
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
