package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/httpapi"
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

// heldPart starts the upload of part n of upload id and sends all of it but
// its last byte, then holds the request open until stop is closed. It
// returns the channel its answer arrives on, once the first bytes are sent.
func heldPart(t *testing.T, r *raw, id string, n int, stop <-chan struct{}) <-chan *http.Response {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PUT", fmt.Sprintf("%s/v1/photos/uploads/%s/parts/%d", r.url, id, n), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = api.PartSize
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+r.token)
	got := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- nil
			return
		}
		resp.Body.Close()
		got <- resp
	}()
	wrote := make(chan struct{})
	go func() {
		pw.Write(make([]byte, 64<<10))
		close(wrote)
		pw.Write(make([]byte, api.PartSize-1-64<<10))
		<-stop
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	<-wrote
	return got
}

// answerOf waits for an answer that should come at once.
func answerOf(t *testing.T, got <-chan *http.Response) *http.Response {
	t.Helper()
	select {
	case resp := <-got:
		return resp
	case <-time.After(5 * time.Second):
		return nil
	}
}

// stillHeld reports whether a held part is still being received.
func stillHeld(got <-chan *http.Response) bool {
	select {
	case <-got:
		return false
	case <-time.After(100 * time.Millisecond):
		return true
	}
}

// Part uploads that stop short cannot pile up: one account may hold only a
// few at once, and the server only so many in all; beyond that a part is
// refused at once with 429 or 503 and a Retry-After, before its body is
// read.
func TestHeldPartsAreBounded(t *testing.T) {
	cfg := server.Config{}
	cfg.Photos.PartsPerAccount, cfg.Photos.Parts = 2, 3
	env := servertest.StartWith(t, cfg)
	stop := make(chan struct{})
	defer close(stop)
	upload := func(r *raw) string {
		r.consent("photos", true)
		var up api.Upload
		r.must("POST", "/v1/photos/uploads", api.UploadCreate{Size: 4 * api.PartSize, Hash: randomBytes(32)}, &up)
		return up.ID
	}
	a, _ := signup(t, env, "IN")
	b, _ := signup(t, env, "IN")
	ua, ub := upload(a), upload(b)
	for n := range 2 {
		if !stillHeld(heldPart(t, a, ua, n, stop)) {
			t.Fatalf("A's part %d was answered before its body arrived", n)
		}
	}
	resp := answerOf(t, heldPart(t, a, ua, 2, stop))
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("A's third part at once: %v, want 429 with Retry-After", resp)
	}
	if !stillHeld(heldPart(t, b, ub, 0, stop)) {
		t.Fatal("B's first part was answered before its body arrived")
	}
	resp = answerOf(t, heldPart(t, b, ub, 1, stop))
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a part beyond the server's bound: %v, want 503 with Retry-After", resp)
	}
}

// Proofs are asked for anonymously: a size or index the log never had is
// refused before any work, not computed (a size near 2^63 used to spin a
// core for as long as the process lived).
func TestProofSizesAreCheckedFirst(t *testing.T) {
	env := servertest.Start(t)
	signup(t, env, "IN") // something in the logs
	c := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{
		"/v1/audit/directory/inclusion?index=0&size=9223372036854775807",
		"/v1/audit/in/inclusion?index=9223372036854775806&size=9223372036854775807",
		"/v1/audit/directory/consistency?old=1&size=9223372036854775807",
		"/v1/audit/in/consistency?old=4611686018427387904&size=9223372036854775807",
	} {
		start := time.Now()
		resp, err := c.Get(env.URL + path)
		if err != nil {
			t.Fatalf("%s: %v (after %s)", path, err, time.Since(start))
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", path, resp.StatusCode)
		}
	}
}

// A message socket lives only as long as its session: logging out (or
// revoking the device) closes it within the recheck period, and one device
// may hold only a few sockets at once.
func TestSocketsEndWithTheirSession(t *testing.T) {
	cfg := server.Config{}
	cfg.HTTP.SocketRecheck = 50 * time.Millisecond
	env := servertest.StartWith(t, cfg)
	a, _ := signup(t, env, "IN")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func() (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, strings.Replace(env.URL, "http", "ws", 1)+"/v1/messages/ws",
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + a.token}}})
	}
	var conns []*websocket.Conn
	for range httpapi.MaxSocketsPerDevice {
		conn, _, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if _, _, err := conn.Read(ctx); err != nil { // the first notice
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	if _, resp, err := dial(); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("one socket more than the cap: %v %v, want 429", resp, err)
	}

	a.must("DELETE", "/v1/sessions/current", nil, nil)
	for i, conn := range conns {
		_, _, err := conn.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
			t.Fatalf("socket %d after logout: %v, want closed (policy violation)", i, err)
		}
	}
}

// A data folder made before with modes anyone on the host could read (a
// folder made by hand, 0755; files restored 0644) is made private when the
// server starts: folders 0700, files 0600.
func TestDataFolderIsPrivate(t *testing.T) {
	data := t.TempDir()
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{Dev: true, Data: data, Logger: slog.New(slog.DiscardHandler)}
	s, err := server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Chmod(path, map[bool]fs.FileMode{true: 0o755, false: 0o644}[d.IsDir()])
		}
		return nil
	})
	s, err = server.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := 0
	filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		if !strings.HasSuffix(path, ".db") && !strings.HasSuffix(path, ".db-wal") && !strings.HasSuffix(path, ".db-shm") && d.Type().IsRegular() {
			return nil // other files (the dev root key, content) are written 0600 by their owners
		}
		seen++
		if want := map[bool]fs.FileMode{true: 0o700, false: 0o600}[d.IsDir()]; info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", strings.TrimPrefix(path, data), info.Mode().Perm(), want)
		}
		return nil
	})
	if seen < 5 {
		t.Fatalf("only %d folders and database files checked", seen)
	}
}

// A browser's message socket is checked again by the browser's own rule:
// it stays open across rechecks while the session lives (it was closed at
// the first recheck, its token taken for a phone's), and closes when the
// browser signs out.
func TestBrowserSocketLivesWithItsSession(t *testing.T) {
	cfg := server.Config{}
	cfg.HTTP.SocketRecheck = 20 * time.Millisecond
	env := servertest.StartWith(t, cfg)
	signedUp(t, env, canaryIMEI)
	b := newBrowser(t, env)
	if a := b.signIn(canaryEmail, canaryPassword); a.status != http.StatusCreated {
		t.Fatalf("browser sign-in: %d %s", a.status, a.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(env.URL, "http", "ws", 1)+"/v1/messages/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {api.SessionCookie + "=" + b.token()}, "Origin": {env.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if _, _, err := conn.Read(ctx); err != nil { // the first notice
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, _, err := conn.Read(ctx); read <- err }()
	select {
	case err := <-read:
		t.Fatalf("the socket closed while its session lives: %v", err)
	case <-time.After(10 * cfg.HTTP.SocketRecheck):
	}
	b.must("DELETE", "/v1/sessions/current", nil, nil)
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("socket after sign-out: %v, want closed (policy violation)", err)
	}
}

// Behind a load balancer named in trusted_proxies, the sign-in limit is
// per client (the address the balancer forwards), not one limit shared by
// every client; without it, a client's own X-Forwarded-For changes
// nothing.
func TestSignInLimitBehindProxy(t *testing.T) {
	salt := func(env *servertest.Env, client string) int {
		body, _ := json.Marshal(api.SaltRequest{Handle: make([]byte, 64)})
		req, _ := http.NewRequest("POST", env.URL+"/v1/auth/salt", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	limited := func(trusted []string) *servertest.Env {
		cfg := server.Config{TrustedProxies: trusted}
		cfg.HTTP.AuthPerMinute, cfg.HTTP.AuthBurst = 1, 2
		return servertest.StartWith(t, cfg)
	}

	behind := limited([]string{"127.0.0.1"})
	for i := range 2 {
		if st := salt(behind, "198.51.100.1"); st != http.StatusOK {
			t.Fatalf("client A's request %d: %d", i, st)
		}
	}
	if st := salt(behind, "198.51.100.1"); st != http.StatusTooManyRequests {
		t.Fatalf("client A over its burst: %d, want 429", st)
	}
	if st := salt(behind, "198.51.100.2"); st != http.StatusOK {
		t.Fatalf("client B behind the same balancer: %d, want 200 (its own limit)", st)
	}
	if st := salt(behind, "192.0.2.9, 198.51.100.1"); st != http.StatusTooManyRequests {
		t.Fatalf("client A writing another address before the balancer's: %d, want 429", st)
	}

	direct := limited(nil)
	salt(direct, "198.51.100.1")
	salt(direct, "198.51.100.2")
	if st := salt(direct, "198.51.100.3"); st != http.StatusTooManyRequests {
		t.Fatalf("a client's own X-Forwarded-For, no proxy trusted: %d, want 429 (one limit for its address)", st)
	}
}

// The sign-in limit per address is one across instances: a client that
// spreads its requests over two instances behind the balancer gets no
// more than from one (a minute's rate and a burst, a minute).
func TestSignInLimitAcrossInstances(t *testing.T) {
	salt := func(env *servertest.Env) int {
		body, _ := json.Marshal(api.SaltRequest{Handle: make([]byte, 64)})
		resp, err := http.Post(env.URL+"/v1/auth/salt", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cfg := server.Config{}
	cfg.HTTP.AuthPerMinute, cfg.HTTP.AuthBurst = 1, 2 // 3 a minute in all
	one := servertest.StartWith(t, cfg)
	cfg.Data = one.Data
	two := servertest.StartWith(t, cfg)
	for i, env := range []*servertest.Env{one, one, two} {
		if st := salt(env); st != http.StatusOK {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	if st := salt(two); st != http.StatusTooManyRequests {
		t.Fatalf("a fourth request in the minute, at an instance whose own bucket is not empty: %d, want 429", st)
	}
}
