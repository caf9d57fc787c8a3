package packaging

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/candorcloud/candor/test/internal/testenv"
)

// balancer is HAProxy running packaging/haproxy.cfg in the foreground on
// loopback, in front of two candor instances.
type balancer struct {
	HTTPS, HTTP string // https://127.0.0.1:PORT and http://127.0.0.1:PORT
	Client      *http.Client
	logs        *lockedBuffer
}

// lockedBuffer is haproxy's output, written by the process's copier and
// read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// renderConfig is packaging/haproxy.cfg for the test: loopback ports for
// its two frontends, the test's certificate, the two instances' addresses,
// and without the lines that need root (user, group, chroot). Everything
// else — the checks, the timeouts, the retries — is the file as shipped.
func renderConfig(t testing.TB, httpAddr, httpsAddr, cert, server1, server2 string) string {
	t.Helper()
	cfg := testenv.ReadRepo(t, "packaging/haproxy.cfg")
	replace := func(old, new string) {
		if strings.Count(cfg, old) != 1 {
			t.Fatalf("packaging/haproxy.cfg no longer holds %q once", old)
		}
		cfg = strings.Replace(cfg, old, new, 1)
	}
	replace("bind :80\n", "bind "+httpAddr+"\n")
	replace("bind :443 ssl crt /etc/haproxy/certs/candor.pem", "bind "+httpsAddr+" ssl crt "+cert)
	replace("10.0.0.11:8080", server1)
	replace("10.0.0.12:8080", server2)
	for _, l := range []string{"\tuser haproxy\n", "\tgroup haproxy\n", "\tchroot /var/lib/haproxy\n"} {
		replace(l, "")
	}
	return cfg
}

// startHAProxy runs haproxy -db (foreground) with the rendered example in
// front of the two addresses, and waits until it accepts connections.
func startHAProxy(t *testing.T, server1, server2 string) *balancer {
	t.Helper()
	hp := needTool(t, "haproxy")
	cert, pool := testenv.SelfSigned(t)
	httpAddr, httpsAddr := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(renderConfig(t, httpAddr, httpsAddr, cert, server1, server2)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(hp, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	b := &balancer{HTTPS: "https://" + httpsAddr, HTTP: "http://" + httpAddr, logs: &lockedBuffer{}}
	cmd := exec.Command(hp, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("haproxy's log:\n%s", b.logs)
		}
	})
	b.Client = &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	t.Cleanup(b.Client.CloseIdleConnections)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", httpsAddr); err == nil {
			c.Close()
			return b
		}
		select {
		case <-done:
			t.Fatalf("haproxy exited:\n%s", b.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not listen within 20s:\n%s", b.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allReady asks GET /readyz through the balancer n times in a row and
// returns the first status that is not 200, or 200.
func (b *balancer) allReady(n int) int {
	for range n {
		if code := testenv.Status(b.Client, b.HTTPS+"/readyz"); code != http.StatusOK {
			return code
		}
	}
	return http.StatusOK
}

// waitAllReady waits until n requests in a row are ready through the
// balancer, which must happen within the health checks' few seconds.
func (b *balancer) waitAllReady(t *testing.T, n int, why string) {
	t.Helper()
	var code int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code = b.allReady(n); code == http.StatusOK {
			return
		}
	}
	t.Fatalf("%s: /readyz through the balancer still answers %d after 20s", why, code)
}

// TestHAProxyBalancesTwoInstances puts the example in front of two real
// instances: requests flow over TLS, plain HTTP is redirected, and
// stopping one instance leaves /readyz answering 200 through the balancer
// at once (a refused connection is retried on the other instance).
func TestHAProxyBalancesTwoInstances(t *testing.T) {
	needTool(t, "haproxy")
	one, two := startCandor(t, "--dev"), startCandor(t, "--dev")
	b := startHAProxy(t, one.Addr, two.Addr)

	b.waitAllReady(t, 10, "two ready instances")
	if code := testenv.Status(b.Client, b.HTTPS+"/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz through the balancer: %d", code)
	}
	resp, err := b.Client.Get(b.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || !strings.HasPrefix(loc, "https://") {
		t.Fatalf("plain HTTP answered %d to %q; want a redirect to https", resp.StatusCode, loc)
	}

	two.Stop()
	if code := b.allReady(20); code != http.StatusOK {
		t.Fatalf("with one instance stopped, /readyz through the balancer answered %d", code)
	}
}

// TestHAProxyTakesSealedInstanceOut puts a ready instance and a sealed one
// (a production server before its key ceremony) behind the example: the
// sealed one answers 503 on /readyz, so the health check must take it out
// of the pool and every request must reach the ready one. Without
// `option httpchk GET /readyz`, round robin sends every other request to
// the sealed instance and this fails.
func TestHAProxyTakesSealedInstanceOut(t *testing.T) {
	needTool(t, "haproxy")
	ready, sealed := startCandor(t, "--dev"), startCandor(t)
	if code := testenv.Status(http.DefaultClient, sealed.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("the sealed instance's /readyz answers %d, want 503: the test would prove nothing", code)
	}
	if code := testenv.Status(http.DefaultClient, sealed.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("the sealed instance's /healthz answers %d, want 200 (up but not ready)", code)
	}
	b := startHAProxy(t, ready.Addr, sealed.Addr)
	b.waitAllReady(t, 20, "one ready and one sealed instance")
	if !strings.Contains(b.logs.String(), "candor/candor2 is DOWN") {
		t.Errorf("haproxy's log does not say the sealed instance is DOWN")
	}
}

// TestHAProxyForwardedProto checks what the instances are told about the
// scheme, with two recording backends in place of Candor (which reads the
// header to make its session cookies Secure): over TLS they see exactly
// one X-Forwarded-Proto, https, even when the client sent its own; a
// request over plain HTTP claiming https reaches no instance at all.
func TestHAProxyForwardedProto(t *testing.T) {
	needTool(t, "haproxy")
	var mu sync.Mutex
	var seen [][]string
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/whoami" {
			mu.Lock()
			seen = append(seen, r.Header.Values("X-Forwarded-Proto"))
			mu.Unlock()
		}
		w.WriteHeader(http.StatusOK)
	})
	one, two := httptest.NewServer(record), httptest.NewServer(record)
	defer one.Close()
	defer two.Close()
	b := startHAProxy(t, one.Listener.Addr().String(), two.Listener.Addr().String())
	b.waitAllReady(t, 4, "two recording backends")

	for _, forged := range []string{"", "http", "https, http"} {
		req, err := http.NewRequest(http.MethodGet, b.HTTPS+"/whoami", nil)
		if err != nil {
			t.Fatal(err)
		}
		if forged != "" {
			req.Header.Set("X-Forwarded-Proto", forged)
		}
		resp, err := b.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	req, err := http.NewRequest(http.MethodGet, b.HTTP+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain HTTP claiming https answered %d, want the redirect", resp.StatusCode)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("the backends saw %d requests, want the 3 sent over TLS (plain HTTP must reach none): %q", len(seen), seen)
	}
	for i, v := range seen {
		if len(v) != 1 || v[0] != "https" {
			t.Errorf("request %d reached the instance with X-Forwarded-Proto %q, want exactly [https]", i, v)
		}
	}
}

// TestHAProxyWebSocket opens a WebSocket through the example, as phones
// open GET /v1/messages/ws, to an echoing backend, and exchanges messages
// across a pause: the upgrade passes and the tunnel carries both ways.
func TestHAProxyWebSocket(t *testing.T) {
	needTool(t, "haproxy")
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/messages/ws" {
			w.WriteHeader(http.StatusOK)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	one, two := httptest.NewServer(echo), httptest.NewServer(echo)
	defer one.Close()
	defer two.Close()
	b := startHAProxy(t, one.Listener.Addr().String(), two.Listener.Addr().String())
	b.waitAllReady(t, 4, "two echoing backends")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(b.HTTPS, "https")+"/v1/messages/ws",
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: b.Client.Transport}})
	if err != nil {
		t.Fatalf("WebSocket through the balancer: %v", err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the upgrade answered %d", resp.StatusCode)
	}
	for i, text := range []string{"first", "after a pause"} {
		if i > 0 {
			time.Sleep(2 * time.Second)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the echo of %q: %v", text, err)
		}
		if string(got) != text {
			t.Fatalf("echo %q, want %q", got, text)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}
