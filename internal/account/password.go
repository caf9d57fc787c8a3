package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2 is the server-side cost of hashing a device's auth key.
type Argon2 struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// OWASP is the OWASP password storage cheat sheet's minimum for Argon2id:
// 19 MiB, two passes, one lane.
var OWASP = Argon2{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

var b64 = base64.RawStdEncoding

// hash returns the PHC string of an Argon2id hash of secret.
func (p Argon2) hash(secret []byte) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	sum := argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}

// verify reports whether secret matches the PHC string, in constant time
// with respect to the secret. A malformed string never matches.
func verify(phc string, secret []byte) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false
	}
	var p Argon2
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false
	}
	if p.Time == 0 || p.Threads == 0 || p.MemoryKiB > 4<<20 || p.Time > 64 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
