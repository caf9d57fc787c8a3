package candor

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error. The list is append-only: each kind has a stable
// code that clients may rely on, and httpapi maps each to one HTTP status.
type Kind uint8

// The kinds of error.
const (
	Internal         Kind = iota // a fault of the server; details are never shown
	Invalid                      // the request is malformed or a value is out of range
	NotFound                     // no such thing, or not one the caller may see
	Unauthenticated              // no valid credentials
	Forbidden                    // credentials are valid but do not allow this
	ConsentRequired              // the category is off for this account
	Sealed                       // the server holds no keys until custodians unseal it
	Conflict                     // the thing exists already, or changed under the caller
	WrongRegion                  // the account lives in another region
	TooLarge                     // the request or an item in it is too large
	RateLimited                  // too many attempts; try again later
	Unavailable                  // a dependency is down; try again later
	Integrity                    // stored data failed its integrity check
	MethodNotAllowed             // the endpoint exists but not with this method
)

var codes = [...]string{
	Internal:         "internal",
	Invalid:          "invalid",
	NotFound:         "not_found",
	Unauthenticated:  "unauthenticated",
	Forbidden:        "forbidden",
	ConsentRequired:  "consent_required",
	Sealed:           "sealed",
	Conflict:         "conflict",
	WrongRegion:      "wrong_region",
	TooLarge:         "too_large",
	RateLimited:      "rate_limited",
	Unavailable:      "unavailable",
	Integrity:        "integrity",
	MethodNotAllowed: "method_not_allowed",
}

// Code is the stable machine-readable name of k, as sent to clients.
func (k Kind) Code() string {
	if int(k) < len(codes) {
		return codes[k]
	}
	return codes[Internal]
}

// KindOfCode is the inverse of Code; unknown codes are Internal.
func KindOfCode(code string) Kind {
	for k, c := range codes {
		if c == code {
			return Kind(k)
		}
	}
	return Internal
}

func (k Kind) String() string { return k.Code() }

// Error is an error with a kind and a message meant for the person who made
// the request. Err, when set, is the underlying cause: it is logged by the
// server but never shown to a client.
//
// Messages never contain personal data: no names, numbers, emails, content or
// raw identifiers. They are lowercase and have no trailing period.
type Error struct {
	Kind     Kind
	Message  string
	Category Category // set when Kind is ConsentRequired
	// RetryAfter, when set (with RateLimited or Unavailable), is how long
	// to wait; httpapi sends it as the Retry-After header.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	switch {
	case e.Message != "" && e.Err != nil:
		return e.Message + ": " + e.Err.Error()
	case e.Message != "":
		return e.Message
	case e.Err != nil:
		return e.Err.Error()
	}
	return e.Kind.Code()
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an error of kind k with a message for the user.
func E(k Kind, msg string) error { return &Error{Kind: k, Message: msg} }

// Errorf is E with formatting. Use %v, not %w: the cause of a user-facing
// error stays hidden.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a user message and a hidden cause.
func Wrap(k Kind, msg string, cause error) error { return &Error{Kind: k, Message: msg, Err: cause} }

// ErrConsent is the refusal for a category that is off. The message names
// the category and says how to turn it on.
func ErrConsent(c Category) error {
	return &Error{
		Kind:     ConsentRequired,
		Category: c,
		Message:  fmt.Sprintf("%s is off for this account: nothing was sent or stored; turn it on with 'consent %s on'", c, c),
	}
}

// ErrSealed is the refusal of a sealed server.
var ErrSealed = E(Sealed, "the server is sealed: no personal data can be served until key custodians unseal it")

// ErrMoving is the answer for an account being migrated to another region:
// retryable, since the move ends in seconds and the account answers from its
// new region.
var ErrMoving error = &Error{Kind: Unavailable, RetryAfter: time.Second,
	Message: "this account is moving to another region: try again in a moment"}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
// A nil error has kind Internal too; check for nil first.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err has kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }

// Message returns the user-facing message of err: its *Error message, or a
// generic sentence for errors that are not *Error (whose text may hold
// internal detail).
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal && e.Message != "" {
		return e.Message
	}
	return "the server failed to handle the request; it has been logged"
}
