// Package storetest is the conformance suite of the store contracts. Every
// implementation of store.Region and store.Directory runs it in one line:
//
//	func TestRegion(t *testing.T) { storetest.TestRegion(t, openRegion) }
//
// The suite checks observable behaviour only, as store.go documents it, plus
// the few choices the contract leaves open that the layers above rely on
// (noted where they are tested): feed Seqs are dense per account, a missing
// account is NotFound for writes that need it, a malformed change is Invalid
// and Changes needs a positive limit.
package storetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

// newID returns a fresh identifier of the shape candor.ValidID accepts.
func newID(prefix string) string {
	b := make([]byte, 20)
	rand.Read(b)
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return prefix + "_" + s[:26]
}

// randBytes returns n random bytes.
func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantKind fails unless err has kind k.
func wantKind(t *testing.T, err error, k candor.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want kind %v", k)
	}
	if !candor.Is(err, k) {
		t.Fatalf("got error %v of kind %v, want kind %v", err, candor.KindOf(err), k)
	}
}

// wantConsentRequired fails unless err is the ConsentRequired refusal of c.
func wantConsentRequired(t *testing.T, err error, c candor.Category) {
	t.Helper()
	wantKind(t, err, candor.ConsentRequired)
	var e *candor.Error
	if errors.As(err, &e) && e.Category != c {
		t.Fatalf("ConsentRequired names category %q, want %q", e.Category, c)
	}
}

// sameTime reports whether a and b are equal at millisecond precision, the
// least a store must keep.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !sameTime(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// recent reports whether t is within a minute of now: a time the store
// filled in.
func recent(t time.Time) bool {
	d := time.Since(t)
	return d > -time.Minute && d < time.Minute
}

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s = %x, want %x", what, got, want)
	}
}

// testTime is a fixed instant with sub-millisecond digits, in a zone other
// than UTC, to check that stores normalise and keep precision.
var testTime = time.Date(2026, 11, 2, 9, 30, 15, 123456789, time.FixedZone("IST", 5*3600+1800))

// Logged returns an audit record standing for the access of one call: the
// argument every store method that is an access takes. Its data is random,
// so each call appends a distinct entry.
func Logged() store.AuditRecord { return auditRecord(nil) }

func logged() store.AuditRecord { return Logged() }
