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
	out := f.out[:0]
	i := 0
scan:
	for i < len(buf) {
		if f.cdata {
			j := bytes.Index(buf[i:], []byte("]]>"))
			if j < 0 {
				end := len(buf)
				if !last {
					end = max(i, len(buf)-2) // "]]>" may straddle the buffer's end
				}
				out = append(out, buf[i:end]...)
				i = end
				break
			}
			out = append(out, buf[i:i+j+3]...)
			i += j + 3
			f.cdata = false
			continue
		}
		j := bytes.IndexAny(buf[i:], "&<")
		if j < 0 {
			out = append(out, buf[i:]...)
			i = len(buf)
			break
		}
		out = append(out, buf[i:i+j]...)
		i += j
		rest := buf[i:]
		if rest[0] == '<' {
			if len(rest) < len(cdataOpen) && !last && bytes.HasPrefix(cdataOpen, rest) {
				break scan // need more bytes
			}
			if bytes.HasPrefix(rest, cdataOpen) {
				out = append(out, cdataOpen...)
				i += len(cdataOpen)
				f.cdata = true
				continue
			}
			out = append(out, '<')
			i++
			continue
		}
		repl, n, more := fixRef(rest, last)
		switch {
		case more:
			break scan
		case n == 0:
			out = append(out, '&')
			i++
		default:
			out = append(out, repl...)
			i += n
		}
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
		c := b[i]
		var d int64
		switch {
		case c >= '0' && c <= '9':
			d = int64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int64(c-'A') + 10
		case c == ';' && i > start:
			return v, i + 1, false
		default:
			return 0, 0, false
		}
		if i-start >= maxDigits {
			return 0, 0, false
		}
		v = v*base + d
	}
	return 0, 0, !last
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
