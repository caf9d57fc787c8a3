package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// Streaming encryption of large blobs, the STREAM construction age and Tink
// use: the plaintext is cut into segments of SegmentSize bytes, each sealed
// with AES-256-GCM under the blob's own key with the nonce
//
//	11-byte big-endian segment counter || 1 byte: 1 on the last segment, else 0
//
// so segments can be sealed as they arrive (a resumed upload), opened one
// by one (a ranged read), and none can be dropped, reordered, repeated or
// moved to another blob (the key is per blob; ad binds it further), and the
// stream cannot be truncated (only the last segment carries the final
// flag). An empty blob is one empty, final segment.
const (
	SegmentSize     = 64 << 10
	SegmentOverhead = 16
)

// Stream seals and opens the segments of one blob.
type Stream struct {
	aead cipher.AEAD
	ad   []byte
}

// NewStream returns a Stream for a blob's 32-byte key and associated data.
func NewStream(key, ad []byte) (*Stream, error) {
	if len(key) != KeySize {
		return nil, errors.New("seal: stream key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Stream{aead: aead, ad: append([]byte(nil), ad...)}, nil
}

func streamNonce(index int64, final bool) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[3:11], uint64(index))
	if final {
		n[11] = 1
	}
	return n[:]
}

// Seal appends the sealed segment index of the blob to dst. pt is at most
// SegmentSize bytes, and exactly SegmentSize unless final.
func (s *Stream) Seal(dst []byte, index int64, final bool, pt []byte) []byte {
	return s.aead.Seal(dst, streamNonce(index, final), pt, s.ad)
}

// Open appends the plaintext of sealed segment index to dst. A segment
// altered, moved, swapped or taken from another blob, or a final flag that
// does not match, is a candor.Integrity error.
func (s *Stream) Open(dst []byte, index int64, final bool, ct []byte) ([]byte, error) {
	pt, err := s.aead.Open(dst, streamNonce(index, final), ct, s.ad)
	if err != nil {
		return nil, errIntegrity
	}
	return pt, nil
}

// Segments is how many segments a plaintext of size bytes has (at least 1).
func Segments(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + SegmentSize - 1) / SegmentSize
}

// SealedSize is the size of the sealed stream of a plaintext of size bytes.
func SealedSize(size int64) int64 { return max(size, 0) + Segments(size)*SegmentOverhead }
