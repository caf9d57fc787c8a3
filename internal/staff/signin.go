package staff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring"
)

// Secrets gives the server's system secrets (the keyring); ErrSealed while
// sealed.
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// SpentChallenges records the sign-in challenges answered (the directory,
// so that every instance agrees).
type SpentChallenges interface {
	SpendChallenge(ctx context.Context, challenge string, expires, now time.Time) error
}

// A sign-in challenge is
//
//	version (1) || nonce (16) || expiry (8, Unix ms, big-endian) || HMAC-SHA-256 (32)
//
// the MAC keyed by the system secret keyring.SecretStaffSignIn over a
// label and the bytes before it. It is its own state: issuing one stores
// nothing, so anyone may ask for as many as the API's per-address limit
// allows without crowding out a real staff member. It is recorded in the
// directory only once a registered passkey's assertion over it verified,
// so that it is answered once; only staff can write that record.
const (
	signInVersion  = 1
	signInNonceLen = 16
	signInLen      = 1 + signInNonceLen + 8 + sha256.Size
	signInLabel    = "candor staff sign-in challenge v1\x00"
)

// signIns issues and checks sign-in challenges.
type signIns struct {
	secrets Secrets
	spent   SpentChallenges
	ttl     time.Duration
	now     func() time.Time
}

func signInMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signInLabel))
	m.Write(body)
	return m.Sum(nil)
}

// issue returns a new challenge (raw bytes) that expires after ttl;
// ErrSealed while the keyring is sealed.
func (s *signIns) issue() ([]byte, time.Time, error) {
	key, err := s.secrets.Secret(keyring.SecretStaffSignIn)
	if err != nil {
		return nil, time.Time{}, err
	}
	expires := s.now().Add(s.ttl).Truncate(time.Millisecond)
	b := make([]byte, 1+signInNonceLen, signInLen)
	b[0] = signInVersion
	rand.Read(b[1:])
	b = binary.BigEndian.AppendUint64(b, uint64(expires.UnixMilli()))
	return append(b, signInMAC(key, b)...), expires, nil
}

var errSignInChallenge = candor.E(candor.Unauthenticated, "this sign-in answer is to no sign-in this server started, or it expired: start again")

// check returns the expiry of a challenge (as the client echoed it,
// base64url) this server's key made and that has not expired, or
// Unauthenticated; ErrSealed while sealed.
func (s *signIns) check(challenge string) (time.Time, error) {
	if len(challenge) != base64.RawURLEncoding.EncodedLen(signInLen) {
		return time.Time{}, errSignInChallenge
	}
	b, err := base64.RawURLEncoding.DecodeString(challenge)
	if err != nil || len(b) != signInLen || b[0] != signInVersion {
		return time.Time{}, errSignInChallenge
	}
	key, err := s.secrets.Secret(keyring.SecretStaffSignIn)
	if err != nil {
		return time.Time{}, err
	}
	body, mac := b[:signInLen-sha256.Size], b[signInLen-sha256.Size:]
	if !hmac.Equal(mac, signInMAC(key, body)) {
		return time.Time{}, errSignInChallenge
	}
	ms := binary.BigEndian.Uint64(body[1+signInNonceLen:])
	if ms > 1<<62 {
		return time.Time{}, errSignInChallenge
	}
	expires, now := time.UnixMilli(int64(ms)).UTC(), s.now()
	// Not expired, and not from further ahead than the server issues (a
	// clock that jumped back, or a longer TTL once configured).
	if !now.Before(expires) || expires.Sub(now) > s.ttl+time.Second {
		return time.Time{}, errSignInChallenge
	}
	return expires, nil
}

// spend records a verified answer to a challenge; a second answer is
// Unauthenticated.
func (s *signIns) spend(ctx context.Context, challenge string, expires time.Time) error {
	err := s.spent.SpendChallenge(ctx, challenge, expires, s.now())
	switch {
	case candor.Is(err, candor.Conflict):
		return candor.E(candor.Unauthenticated, "this sign-in answer was used already: start again")
	case candor.Is(err, candor.Invalid): // expired between the check and now
		return errSignInChallenge
	}
	return err
}
