package carddav

import (
	"bytes"

	"github.com/emersion/go-vcard"

	"github.com/candorcloud/candor"
)

// Bounds on a card the library is given to decode or encode. Its decoder
// joins folded lines by copying the line so far for each continuation, and
// its encoder joins a parameter's values the same way: both are quadratic
// in what a card may hold within its 1 MiB, so a hostile card could hold a
// core for minutes. Cards are unfolded here in one pass before decoding,
// and cards beyond these bounds are refused (a PUT) or served without
// their properties (a stored card, whose bytes GET still returns).
const (
	maxCardLines   = 5000 // logical lines of one card
	maxParamValues = 64   // values of one parameter of one property
)

var errCardShape = candor.Errorf(candor.Invalid,
	"a card holds at most %d properties and %d values in one parameter", maxCardLines, maxParamValues)

// decodeCard decodes one card within the bounds above.
func decodeCard(data []byte) (vcard.Card, error) {
	unfolded, lines := unfold(data)
	if lines > maxCardLines {
		return nil, errCardShape
	}
	card, err := vcard.NewDecoder(bytes.NewReader(unfolded)).Decode()
	if err != nil {
		return nil, err
	}
	for _, fields := range card {
		for _, f := range fields {
			for _, values := range f.Params {
				if len(values) > maxParamValues {
					return nil, errCardShape
				}
			}
		}
	}
	return card, nil
}

// unfold joins folded lines (a line break followed by a space or a tab,
// RFC 6350 section 3.2) in one pass, and counts the logical lines.
func unfold(data []byte) ([]byte, int) {
	out := make([]byte, 0, len(data))
	lines := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			if i+2 < len(data) && (data[i+2] == ' ' || data[i+2] == '\t') {
				i += 2
				continue
			}
			out = append(out, '\r', '\n')
			i++
			lines++
			continue
		}
		if c == '\n' {
			if i+1 < len(data) && (data[i+1] == ' ' || data[i+1] == '\t') {
				i++
				continue
			}
			lines++
		}
		out = append(out, c)
	}
	return out, lines
}
