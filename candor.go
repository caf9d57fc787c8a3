// Package candor is the vocabulary of the Candor device cloud: identifiers,
// the data categories a person consents to, regions, and the kinds of error
// every layer speaks. It imports nothing from the rest of the module, so every
// package — server, client SDK and tools — can share it.
package candor

import (
	"fmt"
	"regexp"
	"slices"
)

// AccountID names an account. It is random, carries no personal data, and is
// safe to log.
type AccountID string

// DeviceID names one registered device of an account. It is random and safe to
// log; it is not the device's IMEI or any hash of it.
type DeviceID string

// RegionID names a region, such as "in" or "sg".
type RegionID string

var idPattern = regexp.MustCompile(`^[a-z]{2,4}_[a-z2-7]{26}$`)

// ValidID reports whether s has the shape of an identifier minted by Candor
// (a short prefix, an underscore and 26 base32 characters).
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Category is a kind of personal data a person turns on or off separately.
type Category string

// The categories. Every one is off for a new account.
const (
	Contacts  Category = "contacts"
	Notes     Category = "notes"
	SMS       Category = "sms"
	Photos    Category = "photos"
	Messaging Category = "messaging"
)

// Categories lists every category in a stable order.
func Categories() []Category { return []Category{Contacts, Notes, SMS, Photos, Messaging} }

// Valid reports whether c is one of the known categories.
func (c Category) Valid() bool { return slices.Contains(Categories(), c) }

// Synced reports whether c holds records in the change feed (messaging does
// not: its messages are queued, not synced).
func (c Category) Synced() bool { return c.Valid() && c != Messaging }

// ParseCategory returns the category named s, or an Invalid error that lists
// the known ones.
func ParseCategory(s string) (Category, error) {
	c := Category(s)
	if !c.Valid() {
		return "", E(Invalid, fmt.Sprintf("unknown category %q: use one of contacts, notes, sms, photos, messaging", s))
	}
	return c, nil
}

// PolicyVersion is the version of the privacy policy a consent is given under.
// A consent records the version in force when it was given.
const PolicyVersion = "2026-11-01"

// Principal is who a device request acts for: an account, one of its
// devices, and the account's home region. It is established by
// authentication (httpapi's device middleware) and passed as an explicit
// argument to every service method that acts for it, never through a
// context; it holds no personal data.
type Principal struct {
	Account AccountID
	Device  DeviceID
	Region  RegionID
}
