// Package blobs defines the blob store contract: opaque objects by key, for
// the sealed parts of photos and other large items. Implementations — a
// local disk (the default) and an S3-compatible bucket — live in
// sub-packages and pass the conformance suite in blobstest.
//
// A blob store holds only ciphertext: objects are sealed before they are
// put, by the layer above. Keys are made by Candor, never from user input:
// lowercase letters, digits and the characters "/_-." only, no "..", no
// leading or trailing "/", at most 512 bytes.
package blobs

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/candorcloud/candor"
)

// Store keeps objects by key. Errors: a missing object is candor.NotFound;
// a malformed key is candor.Invalid. All methods are safe for concurrent
// use.
type Store interface {
	// Put stores size bytes read from r at key, replacing any object there.
	// Readers see the old object or the new one, never a part: a Put that
	// fails or is cancelled leaves the old object (or none). It fails if r
	// yields more or fewer than size bytes.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object at key and returns its size.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes the object at key; an absent object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// DeletePrefix removes every object whose key starts with prefix and
	// reports how many. prefix must end with "/".
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

var keyPattern = regexp.MustCompile(`^[a-z0-9_.-]+(/[a-z0-9_.-]+)*$`)

// CheckKey validates a key.
func CheckKey(key string) error {
	if len(key) == 0 || len(key) > 512 || !keyPattern.MatchString(key) || strings.Contains(key, "..") {
		return candor.E(candor.Invalid, "malformed blob key")
	}
	return nil
}

// CheckPrefix validates a prefix for List and DeletePrefix: empty, or a key
// followed by "/".
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if !strings.HasSuffix(prefix, "/") {
		return candor.E(candor.Invalid, "a blob prefix ends with /")
	}
	return CheckKey(strings.TrimSuffix(prefix, "/"))
}
