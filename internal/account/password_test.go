package account

import (
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor/internal/store"
)

func TestHashVerify(t *testing.T) {
	p := Argon2{Time: 1, MemoryKiB: 64, Threads: 1}
	secret := []byte("0123456789abcdef0123456789abcdef")
	h := p.hash(secret)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("PHC string %q", h)
	}
	if h == p.hash(secret) {
		t.Fatal("two hashes of one secret are equal: no salt")
	}
	if !verify(h, secret) {
		t.Fatal("right secret refused")
	}
	wrong := []byte("0123456789abcdef0123456789abcdeF")
	if verify(h, wrong) {
		t.Fatal("wrong secret accepted")
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", strings.Replace(h, "v=19", "v=16", 1),
		strings.Replace(h, "t=1", "t=0", 1), strings.Replace(h, "m=64", "m=99999999", 1),
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$", "$argon2id$v=19$m=64,t=1,p=1$%%$%%"} {
		if verify(bad, secret) {
			t.Errorf("malformed %q matched", bad)
		}
	}
}

// OWASP's minimum is what production uses by default.
func TestDefaults(t *testing.T) {
	var c Config
	c.defaults()
	if c.Hash != (Argon2{Time: 2, MemoryKiB: 19456, Threads: 1}) {
		t.Fatalf("server hash cost %+v", c.Hash)
	}
	if c.MinKDF.MemoryKiB < 19456 || c.MinKDF.Time < 2 {
		t.Fatalf("device cost floor %+v", c.MinKDF)
	}
	if DefaultKDF.MemoryKiB < c.MinKDF.MemoryKiB || DefaultKDF.Time < c.MinKDF.Time {
		t.Fatal("the default device cost is below the floor")
	}
}

func TestLockout(t *testing.T) {
	s := &Service{}
	s.cfg.defaults()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	at := func(n int, first, last time.Duration) store.Attempts {
		return store.Attempts{Failures: n, First: now.Add(-first), Last: now.Add(-last)}
	}
	cases := []struct {
		a    store.Attempts
		want time.Duration
	}{
		{at(0, 0, 0), 0},
		{at(4, time.Minute, 0), 0},
		{at(5, time.Minute, 0), time.Minute},
		{at(5, time.Minute, 30*time.Second), 30 * time.Second},
		{at(5, 2*time.Minute, 2*time.Minute), 0}, // the minute has passed
		{at(6, time.Minute, 0), 2 * time.Minute},
		{at(9, time.Minute, 0), 15 * time.Minute}, // capped at the window
		{at(50, 16*time.Minute, 0), 0},            // the window has passed
	}
	for i, c := range cases {
		if got := s.lockout(c.a, now); max(got, 0) != c.want {
			t.Errorf("case %d (%d failures): wait %v, want %v", i, c.a.Failures, got, c.want)
		}
	}
}
