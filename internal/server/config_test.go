package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Limits set in the configuration file take effect, and nonsense values
// stop the server from starting with a sentence saying which.
func TestLimitsFromTheFile(t *testing.T) {
	write := func(body string) string {
		p := filepath.Join(t.TempDir(), "candor.json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := server.LoadConfig(write(`{"limits": {"photo_max_bytes": 1048576, "discovery_per_day": 50, "session_ttl": "12h"}}`))
	if err != nil {
		t.Fatal(err)
	}
	env := servertest.StartWith(t, cfg)
	r, sess := signup(t, env, "IN")
	if left := time.Until(sess.ExpiresAt); left > 12*time.Hour || left < 11*time.Hour {
		t.Errorf("a session with session_ttl 12h expires in %s", left)
	}
	r.consent("photos", true)
	if a := r.call("POST", "/v1/photos/uploads", api.UploadCreate{Size: 2 << 20, Hash: randomBytes(32)}, nil); a.status != 413 {
		t.Errorf("a 2 MiB photo with photo_max_bytes 1 MiB: %d %s, want 413", a.status, a.body)
	}
	if a := r.call("POST", "/v1/photos/uploads", api.UploadCreate{Size: 1 << 20, Hash: randomBytes(32)}, nil); a.status/100 != 2 {
		t.Errorf("a 1 MiB photo: %d %s", a.status, a.body)
	}

	for body, want := range map[string]string{
		`{"limits": {"photo_max_bytes": 10}}`:                                        "photo_max_bytes",
		`{"limits": {"discovery_per_day": 5}}`:                                       "discovery_per_day",
		`{"limits": {"session_ttl": "400d"}}`:                                        "session_ttl",
		`{"limits": {"auth_hash": {"time": 1, "memory_kib": 8, "threads": 1}}}`:      "auth_hash",
		`{"limits": {"auth_hash": {"time": 65, "memory_kib": 19456, "threads": 1}}}`: "auth_hash",
	} {
		cfg, err := server.LoadConfig(write(body))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Data = t.TempDir()
		s, err := server.New(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: the server started", body)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want it to name %s", body, err, want)
		}
	}
	if _, err := server.LoadConfig(write(`{"limits": {"photo_max": 1}}`)); err == nil {
		t.Error("a misspelt limit was accepted")
	}
}
