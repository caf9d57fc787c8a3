package carddav

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"github.com/candorcloud/candor"
)

// A card's name (the last segment of its href) and its record id map to
// each other without a table:
//
//   - A record id names itself: "rec_….vcf".
//   - A UUID, the name nearly every CardDAV client gives a new card
//     (DAVx5, Thunderbird, vdirsyncer and khard use the card's UID), is
//     carried in the record id: its 128 bits and 2 bits of case fill the
//     130 bits of the id's 26 base32 letters. The id then names the card
//     back as "<uuid>.vcf", so the href a client chose is the one it lists.
//   - Any other name is hashed into a record id (SHA-256), so the same name
//     always reaches the same record; such a card is then listed under its
//     id's name, and its client sees it move once.
//
// Every record id has exactly one listed name (the 2 case bits decide which
// form), so the mapping is the same for cards made by phones: a phone's
// random id whose case bits read "UUID" is listed as a UUID name.

const (
	cardExt = ".vcf"
	// case bits, the last 2 of the 130
	caseLower = 1
	caseUpper = 2
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// recordID returns the record id of a card name, and false for a name that
// is not a card's (empty, with a slash, or without the .vcf extension).
func recordID(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, cardExt)
	if !ok || base == "" || strings.ContainsAny(base, "/\x00") {
		return "", false
	}
	if candor.ValidID(base) && strings.HasPrefix(base, "rec_") {
		return base, true
	}
	if u, c, ok := parseUUID(base); ok {
		return packUUID(u, c), true
	}
	sum := sha256.Sum256([]byte("candor/carddav/name/v1\x00" + base))
	return "rec_" + b32.EncodeToString(sum[:])[:26], true
}

// cardName returns the name a record is listed under.
func cardName(id string) string {
	if u, c, ok := unpackUUID(id); ok {
		return formatUUID(u, c) + cardExt
	}
	return id + cardExt
}

// parseUUID reads a UUID in its 36-character form, all lower case or all
// upper case (so that it can be written back as it came).
func parseUUID(s string) ([16]byte, int, bool) {
	var u [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, 0, false
	}
	hexDigits := strings.ReplaceAll(s, "-", "")
	c := caseLower
	switch {
	case hexDigits == strings.ToLower(hexDigits):
	case hexDigits == strings.ToUpper(hexDigits):
		c = caseUpper
	default:
		return u, 0, false
	}
	if _, err := hex.Decode(u[:], []byte(strings.ToLower(hexDigits))); err != nil {
		return u, 0, false
	}
	if hexDigits == strings.ToLower(hexDigits) && hexDigits == strings.ToUpper(hexDigits) {
		c = caseLower // only digits: either case reads the same
	}
	return u, c, true
}

func formatUUID(u [16]byte, c int) string {
	h := hex.EncodeToString(u[:])
	s := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if c == caseUpper {
		s = strings.ToUpper(s)
	}
	return s
}

// packUUID makes the record id carrying u and its case: 26 letters of 5
// bits are 128 bits of u then the 2 case bits.
func packUUID(u [16]byte, c int) string {
	var buf [17]byte
	copy(buf[:], u[:])
	buf[16] = byte(c) << 6
	return "rec_" + b32.EncodeToString(buf[:])[:26]
}

// unpackUUID reads back what packUUID packed; false for an id whose case
// bits say it carries no UUID.
func unpackUUID(id string) ([16]byte, int, bool) {
	var u [16]byte
	letters, ok := strings.CutPrefix(id, "rec_")
	if !ok || len(letters) != 26 {
		return u, 0, false
	}
	buf, err := b32.DecodeString(letters + "aa") // 28 letters: 17 bytes and 4 spare bits
	if err != nil || len(buf) != 17 {
		return u, 0, false
	}
	c := int(buf[16] >> 6)
	if c != caseLower && c != caseUpper {
		return u, 0, false
	}
	copy(u[:], buf[:16])
	if c == caseUpper && !strings.ContainsAny(hex.EncodeToString(u[:]), "abcdef") {
		return u, 0, false // reads the same in both cases: parseUUID takes it as lower
	}
	return u, c, true
}
