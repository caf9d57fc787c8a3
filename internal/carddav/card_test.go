package carddav

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
)

// Folded lines are joined as RFC 6350 says, whatever the line breaks.
func TestUnfold(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"A:b\r\n c\r\n", "A:bc\r\n"},
		{"A:b\n\tc\nB:d\n", "A:bc\nB:d\n"},
		{"A:b\r\nB:c", "A:b\r\nB:c"},
		{"A:b\r\n", "A:b\r\n"},
	} {
		if got, _ := unfold([]byte(c.in)); string(got) != c.want {
			t.Errorf("unfold(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The cards that made the library's decoder and encoder quadratic: a
// property folded over hundreds of thousands of lines decodes in linear
// time (it is unfolded first), and a parameter with hundreds of thousands
// of values is refused before anything encodes it. Each takes well under a
// second; before the bounds, the first took minutes of one core.
func TestHostileCards(t *testing.T) {
	folded := "BEGIN:VCARD\nVERSION:3.0\nFN:x\nNOTE:a\n" + strings.Repeat(" a\n", 349_000) + "END:VCARD\n"
	start := time.Now()
	card, err := decodeCard([]byte(folded))
	if err != nil || len(card.Value("NOTE")) != 349_001 {
		t.Fatalf("a long folded note: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("decoding a long folded note took %v", d)
	}

	params := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE;X=" + strings.Repeat("a,", 520_000) + "a:v\r\nEND:VCARD\r\n"
	if _, err := decodeCard([]byte(params)); !candor.Is(err, candor.Invalid) {
		t.Fatalf("a parameter of 520,001 values: %v, want refused", err)
	}
	lines := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\n" + strings.Repeat("NOTE:a\r\n", maxCardLines) + "END:VCARD\r\n"
	if _, err := decodeCard([]byte(lines)); !candor.Is(err, candor.Invalid) {
		t.Fatalf("a card of %d lines: %v, want refused", maxCardLines+4, err)
	}
	ok := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Asha\r\nTEL;TYPE=cell,voice:+919812345678\r\nEND:VCARD\r\n"
	if c, err := decodeCard([]byte(ok)); err != nil || c.Value("FN") != "Asha" {
		t.Fatalf("an ordinary card: %v", err)
	}
	if !bytes.Contains([]byte(folded), []byte("\n a\n")) {
		t.Fatal("the input is not folded")
	}
}
