package staff

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/keyring"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

// fixedSecrets is a keyring with one key for every name; a nil key is a
// sealed keyring.
type fixedSecrets struct{ key []byte }

func (f fixedSecrets) Secret(name string) ([]byte, error) {
	if f.key == nil {
		return nil, candor.ErrSealed
	}
	h := sha256.Sum256(append([]byte(name+"\x00"), f.key...))
	return h[:], nil
}

// Sign-in challenges as an outsider would try them: made up, edited,
// expired, from another server's key, answered twice; and none is stored
// when issued.
func TestSignInChallenges(t *testing.T) {
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := &signIns{secrets: fixedSecrets{key: []byte("server one")}, spent: dir, ttl: 5 * time.Minute, now: clock}
	other := &signIns{secrets: fixedSecrets{key: []byte("server two")}, spent: dir, ttl: 5 * time.Minute, now: clock}
	enc := base64.RawURLEncoding.EncodeToString
	ctx := context.Background()

	raw, expires, err := s.issue()
	if err != nil || len(raw) != signInLen || !expires.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("issue = %x, %v, %v", raw, expires, err)
	}
	if got, err := s.check(enc(raw)); err != nil || !got.Equal(expires) {
		t.Fatalf("check = %v, %v", got, err)
	}
	raw2, _, _ := s.issue()
	if string(raw2[1:1+signInNonceLen]) == string(raw[1:1+signInNonceLen]) {
		t.Fatal("two challenges share a nonce")
	}

	refused := func(what, challenge string, by *signIns) {
		t.Helper()
		if _, err := by.check(challenge); !candor.Is(err, candor.Unauthenticated) {
			t.Errorf("%s: %v, want unauthenticated", what, err)
		}
	}
	// Made up by a client: random bytes of the right length, garbage, empty.
	made := make([]byte, signInLen)
	made[0] = signInVersion
	refused("a made-up challenge", enc(made), s)
	refused("an empty challenge", "", s)
	refused("not base64url", string(make([]byte, base64.RawURLEncoding.EncodedLen(signInLen))), s)
	refused("a short challenge", enc(raw[:signInLen-1]), s)
	refused("a long challenge", enc(append(raw, 0)), s)
	// Its expiry moved (sooner and later, within what the server
	// issues), the MAC left as it was.
	for _, d := range []time.Duration{-time.Minute, time.Second} {
		edited := append([]byte(nil), raw...)
		binary.BigEndian.PutUint64(edited[1+signInNonceLen:], uint64(expires.Add(d).UnixMilli()))
		refused("an edited expiry", enc(edited), s)
	}
	// Its nonce changed, its version changed, its MAC flipped.
	for _, i := range []int{0, 1, signInLen - 1} {
		e := append([]byte(nil), raw...)
		e[i] ^= 1
		refused("an edited byte", enc(e), s)
	}
	// Another server's key (another deployment, or a key a test made).
	refused("another server's challenge", enc(raw), other)
	theirs, _, _ := other.issue()
	refused("another server's challenge", enc(theirs), s)
	// A challenge the server itself sealed with an expiry too far ahead.
	key, _ := s.secrets.Secret(keyring.SecretStaffSignIn)
	far := append([]byte(nil), raw[:1+signInNonceLen]...)
	far = binary.BigEndian.AppendUint64(far, uint64(now.Add(time.Hour).UnixMilli()))
	refused("an expiry beyond the TTL", enc(append(far, signInMAC(key, far)...)), s)
	// Expired: at its expiry and after.
	now = now.Add(5 * time.Minute)
	refused("an expired challenge", enc(raw), s)
	now = now.Add(-5 * time.Minute)

	// Sealed: neither issued nor checked.
	sealed := &signIns{secrets: fixedSecrets{}, spent: dir, ttl: 5 * time.Minute, now: clock}
	if _, _, err := sealed.issue(); !candor.Is(err, candor.Sealed) {
		t.Fatalf("issue while sealed: %v", err)
	}
	if _, err := sealed.check(enc(raw)); !candor.Is(err, candor.Sealed) {
		t.Fatalf("check while sealed: %v", err)
	}

	// Spent once: a second answer is refused, another challenge is not.
	if err := s.spend(ctx, enc(raw), expires); err != nil {
		t.Fatal(err)
	}
	if err := s.spend(ctx, enc(raw), expires); !candor.Is(err, candor.Unauthenticated) {
		t.Fatalf("a second answer: %v", err)
	}
	if err := s.spend(ctx, enc(raw2), expires); err != nil {
		t.Fatal(err)
	}
}
