package smsxml

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// charRefFixer passes an XML stream through, rewriting the numeric
// character references that XML 1.0 does not allow but the app writes: a
// high surrogate reference followed by a low one (&#55357;&#56832;) becomes
// a reference to the character the pair encodes (&#128512;); a lone
// surrogate or a control character other than tab, newline and carriage
// return becomes &#65533;. CDATA sections are left alone, and no line break
// is added or removed, so the decoder's line numbers stay those of the
// file. A leading UTF-8 byte order mark is dropped.
type charRefFixer struct {
	r     *bufio.Reader
	out   []byte
	cdata bool
	err   error
}

const fixerBuffer = 64 << 10

func newCharRefFixer(r io.Reader) *charRefFixer {
	br := bufio.NewReaderSize(r, fixerBuffer)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	return &charRefFixer{r: br}
}

func (f *charRefFixer) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

var cdataOpen = []byte("<![CDATA[")

func (f *charRefFixer) fill() {
	buf, err := f.r.Peek(fixerBuffer)
	last := err != nil // nothing follows buf
	out, i := f.out[:0], 0
	for more := true; more && i < len(buf); {
		var n int
		if f.cdata {
			out, n, more = f.inCDATA(out, buf[i:], last)
		} else {
			out, n, more = f.outside(out, buf[i:], last)
		}
		i += n
	}
	f.r.Discard(i)
	f.out = out
	if last && i == len(buf) {
		if err == nil {
			err = io.EOF
		}
		f.err = err
	}
}

// inCDATA copies b, which starts inside a CDATA section, to out up to the
// section's end and returns how much of b it took. more is false when the
// section runs past b: the next bytes are needed.
func (f *charRefFixer) inCDATA(out, b []byte, last bool) (_ []byte, n int, more bool) {
	j := bytes.Index(b, []byte("]]>"))
	if j < 0 {
		end := len(b)
		if !last {
			end = max(0, len(b)-2) // "]]>" may straddle the buffer's end
		}
		return append(out, b[:end]...), end, false
	}
	f.cdata = false
	return append(out, b[:j+3]...), j + 3, true
}

// outside copies b to out up to the next markup or reference, which it
// copies too, rewritten if need be (see fixRef), and returns how much of b
// it took. more is false when b is used up or its end is needed to tell
// what follows.
func (f *charRefFixer) outside(out, b []byte, last bool) (_ []byte, n int, more bool) {
	j := bytes.IndexAny(b, "&<")
	if j < 0 {
		return append(out, b...), len(b), false
	}
	out = append(out, b[:j]...)
	rest := b[j:]
	if rest[0] == '<' {
		switch {
		case len(rest) < len(cdataOpen) && !last && bytes.HasPrefix(cdataOpen, rest):
			return out, j, false // need more bytes
		case bytes.HasPrefix(rest, cdataOpen):
			f.cdata = true
			return append(out, cdataOpen...), j + len(cdataOpen), true
		}
		return append(out, '<'), j + 1, true
	}
	repl, n, wait := fixRef(rest, last)
	switch {
	case wait:
		return out, j, false
	case n == 0:
		return append(out, '&'), j + 1, true
	}
	return append(out, repl...), j + n, true
}

// parseRef reads a numeric character reference at the start of b. It
// returns the code point and the reference's length; n is 0 if b does not
// start with one (or one this fixer leaves to the decoder), and more is
// set if b ends before it can tell.
func parseRef(b []byte, last bool) (v int64, n int, more bool) {
	const maxDigits = 10
	if len(b) == 0 {
		return 0, 0, !last
	}
	if b[0] != '&' || len(b) >= 2 && b[1] != '#' {
		return 0, 0, false
	}
	if len(b) < 3 {
		return 0, 0, !last
	}
	i, base := 2, int64(10)
	if b[2] == 'x' {
		i, base = 3, 16
	}
	start := i
	for ; i < len(b); i++ {
		if b[i] == ';' && i > start {
			return v, i + 1, false
		}
		d, ok := digit(b[i], base)
		if !ok || i-start >= maxDigits {
			return 0, 0, false
		}
		v = v*base + d
	}
	return 0, 0, !last
}

// digit is the value of c as a digit in base 10 or 16.
func digit(c byte, base int64) (int64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int64(c - '0'), true
	case base == 16 && c >= 'a' && c <= 'f':
		return int64(c-'a') + 10, true
	case base == 16 && c >= 'A' && c <= 'F':
		return int64(c-'A') + 10, true
	}
	return 0, false
}

// fixRef rewrites the character reference at the start of b if it needs
// it: repl replaces b[:n]. n is 0 if nothing is to be rewritten.
func fixRef(b []byte, last bool) (repl []byte, n int, more bool) {
	v, n, more := parseRef(b, last)
	if more || n == 0 {
		return nil, 0, more
	}
	switch {
	case v >= 0xD800 && v <= 0xDBFF:
		v2, n2, more := parseRef(b[n:], last)
		if more {
			return nil, 0, true
		}
		if n2 > 0 && v2 >= 0xDC00 && v2 <= 0xDFFF {
			r := 0x10000 + (v-0xD800)<<10 + (v2 - 0xDC00)
			return fmt.Appendf(nil, "&#%d;", r), n + n2, false
		}
		return []byte("&#65533;"), n, false
	case v >= 0xDC00 && v <= 0xDFFF, v <= 0x10FFFF && !xmlChar(rune(v)):
		return []byte("&#65533;"), n, false
	}
	return nil, 0, false
}
