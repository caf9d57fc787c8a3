package store

import "context"

// Content keeps public content — published greetings, signed update
// metadata and notices — by name, in the database every instance shares
// (the directory), so that what staff publish survives restarts and every
// instance serves the same. Nothing in it is personal. Names are slash
// separated and never come from a request unchecked.
type Content interface {
	// ReadContent returns a file's bytes (empty, not nil, for an empty
	// file); candor.NotFound if it was never written.
	ReadContent(ctx context.Context, name string) ([]byte, error)
	// WriteContent replaces a file atomically: a reader sees the old
	// bytes or the new ones, never a mix. Concurrent writers of one name
	// leave one of their values.
	WriteContent(ctx context.Context, name string, data []byte) error
}
