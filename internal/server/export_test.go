package server

import (
	"github.com/candorcloud/candor/internal/records"
	"github.com/candorcloud/candor/internal/seal"
)

// PlainCodec stores record data as a plain copy. It exists only in tests, to
// measure what sealing costs.
type PlainCodec struct{}

func (PlainCodec) Seal(_ seal.Key, plaintext, _ []byte) []byte {
	return append([]byte(nil), plaintext...)
}
func (PlainCodec) Open(_ seal.Key, stored, _ []byte) ([]byte, error) {
	return append([]byte(nil), stored...), nil
}

// WithCodec sets the record codec of cfg (tests only).
func WithCodec(cfg Config, c records.Codec) Config {
	cfg.codec = c
	return cfg
}
