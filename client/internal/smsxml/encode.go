package smsxml

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/candorcloud/candor"
)

// Encode writes msgs as an "SMS Backup & Restore" file, in their order
// (see the package documentation). Each message must pass Check; an
// attribute name that does not would make the file malformed. A failure to
// write is Internal.
func Encode(w io.Writer, msgs []*Message) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
	fmt.Fprintf(bw, "<smses count=\"%d\">\n", len(msgs))
	for _, m := range msgs {
		if m.Kind == KindSMS {
			writeElement(bw, "  ", KindSMS, m.Attrs, true)
			continue
		}
		writeElement(bw, "  ", KindMMS, m.Attrs, false)
		bw.WriteString("    <parts>\n")
		for _, p := range m.Parts {
			writeElement(bw, "      ", "part", p, true)
		}
		bw.WriteString("    </parts>\n    <addrs>\n")
		for _, a := range m.Addrs {
			writeElement(bw, "      ", "addr", a, true)
		}
		bw.WriteString("    </addrs>\n  </mms>\n")
	}
	bw.WriteString("</smses>\n")
	if err := bw.Flush(); err != nil {
		return candor.Wrap(candor.Internal, "cannot write the SMS file", err)
	}
	return nil
}

func writeElement(w *bufio.Writer, indent, name string, attrs []Attr, empty bool) {
	w.WriteString(indent)
	w.WriteByte('<')
	w.WriteString(name)
	for _, a := range attrs {
		w.WriteByte(' ')
		w.WriteString(a.Name)
		w.WriteString(`="`)
		writeAttrValue(w, a.Value)
		w.WriteByte('"')
	}
	if empty {
		w.WriteString(" />\n")
	} else {
		w.WriteString(">\n")
	}
}

// writeAttrValue writes s escaped for a double-quoted attribute value.
func writeAttrValue(w *bufio.Writer, s string) {
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == '&':
			w.WriteString("&amp;")
		case r == '<':
			w.WriteString("&lt;")
		case r == '>':
			w.WriteString("&gt;")
		case r == '"':
			w.WriteString("&quot;")
		case r == '\n':
			w.WriteString("&#10;")
		case r == '\r':
			w.WriteString("&#13;")
		case r == '\t':
			w.WriteString("&#9;")
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			w.WriteString("\uFFFD")
		default:
			w.WriteString(s[:size])
		}
		s = s[size:]
	}
}

// xmlChar reports whether XML 1.0 can hold r.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
