package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// Sign-ins for unknown handles from many addresses at once cannot make the
// server hold more Argon2id memory than its bound: beyond it they are
// refused with 503 and a Retry-After, never a 500, and the bound is global
// (the per-address limiter is off here, as for an attacker with many
// addresses).
func TestSignInHashingIsBounded(t *testing.T) {
	cfg := server.Config{}
	cfg.Account.MaxHashing = 1
	cfg.Account.HashWait = 10 * time.Millisecond
	cfg.Account.Hash = account.Argon2{Time: 3, MemoryKiB: 32 * 1024, Threads: 1}
	cfg.HTTP.AuthPerMinute = -1
	env := servertest.StartWith(t, cfg)

	const logins = 24
	var mu sync.Mutex
	statuses := map[int]int{}
	retry := 0
	var wg sync.WaitGroup
	for range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, _ := json.Marshal(api.LoginRequest{Handle: randomBytes(64), AuthKey: randomBytes(32), Device: api.DeviceInfo{Pseudonym: randomBytes(32)}})
			resp, err := http.Post(env.URL+"/v1/sessions", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			statuses[resp.StatusCode]++
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
				retry++
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != logins {
		t.Fatalf("statuses %v: want only 401 (wrong key) and 503 (busy)", statuses)
	}
	if statuses[http.StatusServiceUnavailable] == 0 || retry != statuses[http.StatusServiceUnavailable] {
		t.Fatalf("statuses %v, %d with Retry-After: %d sign-ins at once were all hashed", statuses, retry, logins)
	}
	if statuses[http.StatusUnauthorized] == 0 {
		t.Fatalf("statuses %v: no sign-in was hashed at all", statuses)
	}
}
