package candor

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a fresh random identifier with the given prefix ("acc",
// "dev", "rec", ...): 128 bits from crypto/rand, base32, lowercase.
func NewID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// NewAccountID returns a fresh account identifier.
func NewAccountID() AccountID { return AccountID(NewID("acc")) }

// NewDeviceID returns a fresh device identifier.
func NewDeviceID() DeviceID { return DeviceID(NewID("dev")) }

// NewRecordID returns a fresh record identifier. Devices mint these.
func NewRecordID() string { return NewID("rec") }
