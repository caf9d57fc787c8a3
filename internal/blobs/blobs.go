// Package blobs defines the blob store contract: opaque objects by key, for
// the sealed parts of photos and other large items. Implementations — a
// local disk (the default) and an S3-compatible bucket — live in
// sub-packages and pass the conformance suite in blobstest.
//
// A blob store holds only ciphertext: objects are sealed before they are
// put, by the layer above. Keys are made by Candor, never from user input:
// lowercase letters, digits and the characters "/_-." only, no "..", no
// "." segment, no empty segment, no leading or trailing "/", at most 512
// bytes and at most 255 bytes between slashes (a file name on a disk).
//
// Keys are laid out as paths: a key should not also be the directory of
// other keys ("a" and "a/b"). A store may refuse such a Put with
// candor.Conflict (the disk store does) or keep both (an S3 bucket may).
package blobs

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/candorcloud/candor"
)

// Store keeps objects by key. Errors: a missing object is candor.NotFound;
// a malformed key or prefix is candor.Invalid; a store that cannot be
// reached is candor.Unavailable. All methods are safe for concurrent use.
type Store interface {
	// Put stores size bytes read from r at key, replacing any object there.
	// Readers see the old object or the new one, never a part: a Put that
	// fails or is cancelled leaves the old object (or none). It fails with
	// candor.Invalid if r yields more or fewer than size bytes.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object at key and returns its size. The reader yields
	// the object as it was when Get returned, even if it is replaced or
	// deleted meanwhile; it may stop working once ctx is done. The caller
	// closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes the object at key; an absent object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted. The prefix is
	// empty or ends with "/", so "a/" lists "a/x" but not "ab/x".
	List(ctx context.Context, prefix string) ([]string, error)
	// DeletePrefix removes every object whose key starts with prefix and
	// reports how many. prefix must end with "/". Objects put while it runs
	// may or may not be removed.
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

var keyPattern = regexp.MustCompile(`^[a-z0-9_.-]+(/[a-z0-9_.-]+)*$`)

// CheckKey validates a key: nil, or a candor.Invalid error.
func CheckKey(key string) error {
	if len(key) == 0 || len(key) > 512 || !keyPattern.MatchString(key) || strings.Contains(key, "..") {
		return candor.E(candor.Invalid, "malformed blob key")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || len(seg) > 255 {
			return candor.E(candor.Invalid, "malformed blob key")
		}
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

// The layout of a region's blob store, decided here once: everything of an
// account lies under AccountPrefix, one category's blobs under
// CategoryPrefix. Deleting an account, withdrawing a category and moving an
// account to another region all find the blobs by these prefixes, so a blob
// written elsewhere would be missed by all three.

// AccountPrefix is where every blob of an account lies.
func AccountPrefix(account candor.AccountID) string {
	return "accounts/" + strings.ToLower(string(account)) + "/"
}

// CategoryPrefix is where an account's blobs of one category lie.
func CategoryPrefix(account candor.AccountID, c candor.Category) string {
	return AccountPrefix(account) + string(c) + "/"
}
