package staff

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store/sqlstore"
)

func TestChallenges(t *testing.T) {
	dir, err := sqlstore.OpenSQLiteDirectory(filepath.Join(t.TempDir(), "directory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	c := &challenges{st: dir, ttl: 5 * time.Minute, perStaff: 1, now: func() time.Time { return now }}
	ctx := t.Context()
	put := func(key, staff string) error {
		return c.put(ctx, pending{ceremony: ceremonyApprove, staff: staff, request: "req_a", session: webauthn.SessionData{Challenge: key}})
	}
	// A kept challenge is bound to a staff member (sign-ins are not kept).
	if err := put("x", ""); !candor.Is(err, candor.Internal) {
		t.Fatalf("an unbound challenge: %v", err)
	}
	if err := put("a", "stf_0"); err != nil {
		t.Fatal(err)
	}
	err = put("b", "stf_0")
	var ce *candor.Error
	if !candor.Is(err, candor.RateLimited) || !asError(err, &ce) || ce.RetryAfter <= 0 {
		t.Fatalf("a second challenge for one member: %v, want rate limited with a wait", err)
	}
	// Each staff member has a pool of their own.
	if err := put("s1", "stf_1"); err != nil {
		t.Fatal(err)
	}
	if err := put("s3", "stf_2"); err != nil {
		t.Fatalf("another member's challenge: %v", err)
	}

	// Taken once, with its binding and its state.
	p, ok, err := c.take(ctx, "a")
	if err != nil || !ok || p.request != "req_a" || p.ceremony != ceremonyApprove || p.session.Challenge != "a" ||
		!p.session.Expires.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("take = %+v, %v, %v", p, ok, err)
	}
	if _, ok, _ := c.take(ctx, "a"); ok {
		t.Fatal("a challenge was taken twice")
	}
	if _, ok, _ := c.take(ctx, "never"); ok {
		t.Fatal("a challenge never issued was taken")
	}
	if err := put("c", "stf_0"); err != nil {
		t.Fatalf("a place freed by a taken challenge: %v", err)
	}
	// Expired: not taken, and its place is freed.
	now = now.Add(5 * time.Minute)
	if _, ok, _ := c.take(ctx, "c"); ok {
		t.Fatal("an expired challenge was taken")
	}
	if err := put("d", "stf_1"); err != nil {
		t.Fatalf("the place of an expired challenge was not freed: %v", err)
	}
}

func asError(err error, target **candor.Error) bool {
	ce, ok := err.(*candor.Error)
	*target = ce
	return ok
}

func TestNewPasskeysOrigin(t *testing.T) {
	for _, origin := range []string{"http://localhost:8080", "https://candor.example.org", "https://candor.example.org/"} {
		p, err := NewPasskeys(nil, nil, PasskeyConfig{Origin: origin, Secrets: fixedSecrets{}})
		if err != nil {
			t.Errorf("origin %s: %v", origin, err)
		} else if p.Origin() != strings.TrimSuffix(origin, "/") {
			t.Errorf("origin %s became %s", origin, p.Origin())
		}
	}
	for _, origin := range []string{"", "http://127.0.0.1:8080", "http://[::1]:8080", "candor.example.org", "ftp://candor.example.org", "https://candor.example.org/staff", "https://"} {
		if _, err := NewPasskeys(nil, nil, PasskeyConfig{Origin: origin, Secrets: fixedSecrets{}}); err == nil {
			t.Errorf("origin %q was accepted", origin)
		}
	}
	if _, err := NewPasskeys(nil, nil, PasskeyConfig{Origin: "https://candor.example.org"}); err == nil {
		t.Error("passkeys without the keyring's secrets were made")
	}
}
