package photos

import (
	"io"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/seal"
)

// partReader turns the plaintext of one part, read from the request body
// as it arrives, into the part as stored: its header, then its sealed
// segments (or the plaintext itself in plain mode). It holds one segment at
// a time, so a part costs the server about two segments of memory however
// slowly its bytes arrive, instead of the whole part.
//
// A body shorter than the part's length fails with Invalid, a longer one
// with TooLarge; the error is kept in err, and the blob store, whose Put
// reads the stream to its end, stores nothing of a part that failed.
type partReader struct {
	body   io.Reader
	st     *seal.Stream // nil: stored plain
	part   int
	want   int64 // the part's plaintext length
	first  int64 // the index of the part's first segment in the photo
	last   int64 // the index of the photo's last segment
	read   int64 // plaintext bytes read so far
	seals  int64 // segments emitted so far
	seg    []byte
	out    []byte // what Read hands out next
	done   bool
	err    error
	sealed []byte // reused output buffer
}

func newPartReader(body io.Reader, st *seal.Stream, size int64, part int, header []byte) *partReader {
	return &partReader{body: body, st: st, part: part, want: partLen(size, part),
		first: int64(part) * segmentsPerPart, last: seal.Segments(size) - 1,
		seg: make([]byte, seal.SegmentSize), out: header}
}

// storedSize is the size of the part as stored, header included.
func (r *partReader) storedSize(header int) int64 {
	if r.st == nil {
		return r.want
	}
	return int64(header) + seal.SealedSize(r.want)
}

func (r *partReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.next()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// next reads the next segment of plaintext and puts its stored form in out.
func (r *partReader) next() {
	k := min(int64(seal.SegmentSize), r.want-r.read)
	got, err := io.ReadFull(r.body, r.seg[:k])
	r.read += int64(got)
	if err != nil && k > 0 {
		r.err = candor.Errorf(candor.Invalid, "part %d must be %d bytes; %d arrived", r.part, r.want, r.read)
		return
	}
	if r.read == r.want {
		// The part is whole: one byte more is one too many.
		var extra [1]byte
		if n, _ := io.ReadFull(r.body, extra[:]); n > 0 {
			r.err = candor.Errorf(candor.TooLarge, "part %d must be %d bytes", r.part, r.want)
			return
		}
	}
	index := r.first + r.seals
	r.seals++
	if r.st == nil {
		r.out = r.seg[:k]
	} else {
		r.sealed = r.st.Seal(r.sealed[:0], index, index == r.last, r.seg[:k])
		r.out = r.sealed
	}
	r.done = r.read == r.want
}

// Limits on part uploads at once: each holds a request and about two
// segments of memory for as long as its body takes to arrive.
const (
	// MaxPartsPerAccount is how many parts one account may send at once.
	MaxPartsPerAccount = 4
	// MaxParts is how many parts the server receives at once in all.
	MaxParts = 64
)

var (
	errAccountParts = &candor.Error{Kind: candor.RateLimited, RetryAfter: time.Second,
		Message: "this account is sending too many parts at once: send them a few at a time"}
	errServerParts = &candor.Error{Kind: candor.Unavailable, RetryAfter: time.Second,
		Message: "the server is receiving too many photos at once: try again in a moment"}
)
