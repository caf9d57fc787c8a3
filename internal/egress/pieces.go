package egress

import (
	"bytes"
	"fmt"
	"net/url"
)

// MinPiece is the shortest piece of a canary the detector looks for when a
// canary is not sent whole but cut into pieces spread over a phase's
// requests (the IMEI's first half in one request, its second half in the
// next).
//
// Why 7 bytes: canaries are fresh random values, and the most common bytes
// in a phone's traffic that could match a piece by chance are digits (times,
// versions, sizes, other numbers). A given 7-digit string turns up by chance
// at one of n digit positions with probability about n·10⁻⁷; a phase of a
// few tens of thousands of digits makes that about 0.5%, and the detector
// needs every piece of a canary — two at least, the other of 8 bytes or
// more — to match, which by chance happens about once in 10⁵ phases.
// Six-byte pieces would make chance matches a hundred times likelier; eight
// would miss a 15-digit IMEI cut in the middle (7 + 8).
//
// Pieces are searched as plain bytes (and lowercase, and a phone number's
// digits), not encoded, hashed or compressed: a canary cut into pieces and
// each piece encoded is not found.
const MinPiece = 7

// corpus is everything a request carried, as the detector searches it: the
// path and query (as sent and unescaped), header and trailer values, and
// the body (and its inflated form).
func corpus(r Request) []byte {
	var b bytes.Buffer
	add := func(s []byte) { b.Write(s); b.WriteByte(0) }
	add([]byte(r.Path))
	if p, err := url.PathUnescape(r.Path); err == nil {
		add([]byte(p))
	}
	add([]byte(r.Query))
	if q, err := url.QueryUnescape(r.Query); err == nil {
		add([]byte(q))
	}
	for _, h := range []map[string][]string{r.Header, r.Trailer} {
		for name, vals := range h {
			for _, v := range vals {
				add([]byte(name + ": " + v))
			}
		}
	}
	add(r.Body)
	if plain, ok := inflate(r.Body); ok {
		add(plain)
	}
	return bytes.ToLower(b.Bytes())
}

// Pieces finds the canaries that a phase's requests carry cut into pieces:
// every byte of the canary is inside some piece of at least MinPiece bytes
// found in the requests, and the canary is not found whole in any one of
// them (that is Scan's). It reports one finding per canary, naming the
// request that carried its first piece. The policy allows no exception:
// nothing Candor sends cuts personal data into pieces.
func (d *Detector) Pieces(reqs []Request) []Finding {
	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i] = corpus(r)
	}
	var out []Finding
	for _, c := range d.canaries {
		for _, v := range pieceVariants(c) {
			if n, first, ok := cover(v, bodies); ok {
				r := reqs[first]
				out = append(out, Finding{Match: Match{Item: c.Item, Form: fmt.Sprintf("cut into %d pieces of %d bytes or more", n, MinPiece)},
					Where: "pieces across requests", Method: r.Method, Path: r.Path})
				break
			}
		}
	}
	return out
}

// pieceVariants are the spellings whose pieces are searched: the value in
// lowercase (every corpus is lowercased), and a phone number's digits.
func pieceVariants(c Canary) [][]byte {
	if c.Kind == Binary {
		return nil
	}
	out := [][]byte{bytes.ToLower(c.Value)}
	for _, v := range variants(c) {
		if v.name == "digits only" {
			out = append(out, v.value)
		}
	}
	return out
}

// cover reports whether v is covered by pieces of at least MinPiece bytes
// found in bodies (but not found whole in any), how many pieces the cover
// takes, and the body holding the first.
func cover(v []byte, bodies [][]byte) (pieces, first int, ok bool) {
	if len(v) <= MinPiece {
		return 0, 0, false
	}
	for _, b := range bodies {
		if bytes.Contains(b, v) {
			return 0, 0, false
		}
	}
	// reach[a] is the furthest end of a piece starting at a, and where.
	reach := make([]int, len(v))
	where := make([]int, len(v))
	for a := 0; a+MinPiece <= len(v); a++ {
		reach[a] = a
		for i, b := range bodies {
			if !bytes.Contains(b, v[a:a+MinPiece]) {
				continue
			}
			end := a + MinPiece
			for end < len(v) && bytes.Contains(b, v[a:end+1]) {
				end++
			}
			if end > reach[a] {
				reach[a], where[a] = end, i
			}
		}
	}
	// Greedy: from what is covered, take the piece reaching furthest.
	covered := 0
	for covered < len(v) {
		best, from := covered, -1
		for a := 0; a <= covered && a+MinPiece <= len(v); a++ {
			if reach[a]-a >= MinPiece && reach[a] > best {
				best, from = reach[a], a
			}
		}
		if from < 0 {
			return 0, 0, false
		}
		if pieces == 0 {
			first = where[from]
		}
		pieces++
		covered = best
	}
	return pieces, first, true
}
