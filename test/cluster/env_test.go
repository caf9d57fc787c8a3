package cluster

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/blobs/s3"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/store/pgtest"
	"github.com/candorcloud/candor/test/internal/testenv"
)

// cluster is the running environment: HAProxy in front of four candor
// processes, two per region, and the services they share.
type cluster struct {
	t      *testing.T
	bin    string // the candor binary
	kannel *kannel
	lb     *balancer
	// instances by name: in1, in2, sg1, sg2.
	instances map[string]*instance
	// shares and staff token from the key ceremony.
	shares []string
	staff  string
}

// instance is one candor serve process of a region, restartable from its
// configuration file.
type instance struct {
	name   string // in1, in2, sg1, sg2: its server name in HAProxy
	region candor.RegionID
	addr   string // 127.0.0.1:PORT
	config string // its rendered configuration file
	out    *output
	proc   *process
}

// URL is the instance's own address, as an operator reaches it.
func (in *instance) URL() string { return "http://" + in.addr }

// startCluster starts everything, holds the key ceremony and unseals every
// instance; it returns once HAProxy has every instance in its pools.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	needEnv(t, pgtest.Env, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	rawS3 := needEnv(t, "CANDOR_TEST_S3", "http://ACCESS:SECRET@127.0.0.1:7070/candor-test (.ci/run starts versitygw and sets it)")
	nats := needEnv(t, "CANDOR_TEST_NATS", "nats://127.0.0.1:4222")
	haproxy := needTool(t, "haproxy")
	bearerbox := needTool(t, "bearerbox", "/usr/sbin/bearerbox")
	smsbox := needTool(t, "smsbox", "/usr/sbin/smsbox")
	fakesmsc := needTool(t, "fakesmsc", "/usr/lib/kannel/test/fakesmsc")
	s3cfg, err := s3.ParseURL(rawS3)
	if err != nil {
		t.Fatalf("CANDOR_TEST_S3: %v", err)
	}
	for _, addr := range []string{s3cfg.Endpoint, strings.TrimPrefix(nats, "nats://")} {
		if !listening(addr) {
			missing(t, "cluster test skipped: nothing answers at %s", addr)
		}
	}

	c := &cluster{t: t, instances: map[string]*instance{}}
	c.bin = buildCandor(t)
	c.kannel = startKannel(t, bearerbox, smsbox, fakesmsc)

	// What the four processes share: the databases (fresh schemas), the
	// NATS subjects, the erasure folder, the Kannel password.
	suffix := strings.ToLower(candor.NewID("t")[2:12])
	shared := map[string]string{
		"directory": pgtest.Schema(t),
		"in":        pgtest.Schema(t),
		"sg":        pgtest.Schema(t),
	}
	erasure := t.TempDir()
	password := c.kannel.passwordFile(t)
	lb := balancerAddrs{public: freeAddr(t), in: freeAddr(t), sg: freeAddr(t)}
	for _, name := range []string{"in1", "in2", "sg1", "sg2"} {
		c.instances[name] = &instance{name: name, region: candor.RegionID(name[:2]), addr: freeAddr(t)}
	}

	for _, in := range c.instances {
		file := "docs/examples/multi-region/" + string(in.region) + ".json"
		render := func(cfg map[string]any) {
			pgc := cfg["postgres"].(map[string]any)
			pgc["directory"] = shared["directory"]
			pgc["regions"] = map[string]any{"in": shared["in"], "sg": shared["sg"]}
			s3c := cfg["s3"].(map[string]any)
			s3c["endpoint"], s3c["access_key"], s3c["secret_key"], s3c["use_ssl"] = s3cfg.Endpoint, s3cfg.AccessKey, s3cfg.SecretKey, s3cfg.UseSSL
			buckets := map[string]any{} // every region's, as the file names them: any instance may run a migration
			for id := range s3c["buckets"].(map[string]any) {
				buckets[id] = "candor-" + id + "-" + suffix
			}
			s3c["buckets"] = buckets
			cfg["nats"] = nats
			cfg["name"] = cfg["name"].(string) + "." + suffix // subjects of its own
			k := cfg["sms"].(map[string]any)["kannel"].(map[string]any)
			k["url"], k["password_file"] = c.kannel.sendsms, password
			cfg["trusted_proxies"] = []string{"127.0.0.1"} // HAProxy, and the instances relaying
			cfg["erasure"].(map[string]any)["folder"] = erasure
			for _, r := range cfg["regions"].([]any) {
				r := r.(map[string]any)
				r["url"] = "http://" + map[string]string{"in": lb.in, "sg": lb.sg}[r["id"].(string)]
			}
		}
		in.config = renderJSON(t, file, render)
	}
	for _, name := range []string{"in1", "in2", "sg1", "sg2"} {
		c.instances[name].start(t, c.bin)
	}
	c.lb = startBalancer(t, haproxy, lb, c.instances)
	// Sealed, the instances are out of every pool: wait for that, so that
	// "UP" below means unsealed.
	c.lb.wait(t, 30*time.Second, "every instance DOWN while sealed", func(up map[string]bool) bool {
		for _, s := range c.lb.servers() {
			if up[s] {
				return false
			}
		}
		return true
	})
	c.ceremony()
	for _, name := range []string{"in1", "in2", "sg1", "sg2"} {
		c.unseal(c.instances[name])
	}
	c.lb.wait(t, 30*time.Second, "every instance UP once unsealed", func(up map[string]bool) bool {
		for _, s := range c.lb.servers() {
			if !up[s] {
				return false
			}
		}
		return true
	})
	return c
}

// renderJSON reads a configuration file of the repository, lets render
// change what the test must, checks the result loads as a server
// configuration, and writes it to a temporary file.
func renderJSON(t *testing.T, name string, render func(map[string]any)) string {
	t.Helper()
	var cfg map[string]any
	if err := json.Unmarshal([]byte(testenv.ReadRepo(t, name)), &cfg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	render(cfg)
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := server.LoadConfig(path); err != nil {
		t.Fatalf("the rendered %s: %v", name, err)
	}
	return path
}

// start runs candor serve --config FILE --addr ADDR and waits until it
// listens. The process is stopped when the test ends.
func (in *instance) start(t *testing.T, bin string) {
	t.Helper()
	if in.out == nil {
		in.out = newOutput(256 << 10)
	}
	fmt.Fprintf(in.out, "--- started at %s\n", time.Now().Format(time.RFC3339Nano))
	in.proc = start(t, in.name, in.out, bin, "serve", "--config", in.config, "--addr", in.addr)
	waitListening(t, in.addr, in.proc)
}

// startLog is what the instance logged since its last start, but the
// requests it answered.
func (in *instance) startLog() string {
	s := in.out.String()
	if i := strings.LastIndex(s, "--- started at "); i >= 0 {
		s = s[i:]
	}
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.Contains(l, `"msg":"request"`) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// waitReady waits until the instance answers GET /readyz with 200.
func (in *instance) waitReady(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !in.ready(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not ready 60s after it was unsealed", in.name)
		}
	}
}

// ready reports whether the instance answers GET /readyz with 200.
func (in *instance) ready() bool {
	return testenv.Status(http.DefaultClient, in.URL()+"/readyz") == http.StatusOK
}

// cli runs `candor operator --server URL args...` with stdin, as an
// operator would, with the staff token from the ceremony.
func (c *cluster) cli(stdin string, server string, args ...string) []byte {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"operator", "--server", server}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "CANDOR_STAFF_TOKEN="+c.staff)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("candor operator %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// ceremony holds the key ceremony on one instance: 3 shares, 2 unseal.
func (c *cluster) ceremony() {
	c.t.Helper()
	var init api.InitResponse
	if err := json.Unmarshal(c.cli("", c.instances["in1"].URL(), "init", "--shares", "3", "--threshold", "2", "--json"), &init); err != nil {
		c.t.Fatalf("candor operator init --json: %v", err)
	}
	if len(init.Shares) != 3 || init.StaffToken == "" {
		c.t.Fatalf("the ceremony gave %d shares", len(init.Shares))
	}
	c.shares, c.staff = init.Shares, init.StaffToken
}

// unseal offers two custodians' shares to the instance, as they would,
// one `candor operator unseal` each; the first instance is unsealed by
// its ceremony already.
func (c *cluster) unseal(in *instance) {
	c.t.Helper()
	var st api.OperatorStatus
	if err := json.Unmarshal(c.cli("", in.URL(), "status", "--json"), &st); err != nil {
		c.t.Fatalf("candor operator status --json: %v", err)
	}
	if !st.Sealed {
		return
	}
	for _, share := range c.shares[1:] {
		c.cli(share+"\n", in.URL(), "unseal")
	}
	if err := json.Unmarshal(c.cli("", in.URL(), "status", "--json"), &st); err != nil || st.Sealed {
		c.t.Fatalf("%s still sealed after two shares: %+v %v", in.name, st, err)
	}
}

// operator sends one staff request (POST /v1/operator/migrations, say) to
// the instance with the bootstrap staff token of the ceremony, and decodes
// a 2xx JSON answer into out.
func (c *cluster) operator(in *instance, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.URL()+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.staff)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// balancerAddrs are HAProxy's frontends: the public one (TLS) and each
// region's own, which are the regions' urls.
type balancerAddrs struct{ public, in, sg string }

// balancer is HAProxy running packaging/haproxy-regions.cfg in the
// foreground; it follows the health of every server from its log.
type balancer struct {
	URL    string // https://127.0.0.1:PORT, the public frontend
	pool   *x509.CertPool
	mu     sync.Mutex
	up     map[string]bool // "candor_all/in1" → up
	change chan struct{}   // closed and replaced at each change
	names  []string
}

// serverState is HAProxy's log line of a server going up or down.
var serverState = regexp.MustCompile(`Server (candor_\w+/\w+) is (UP|DOWN)`)

// startBalancer renders packaging/haproxy-regions.cfg for loopback and
// runs haproxy -db with it.
func startBalancer(t *testing.T, haproxy string, lb balancerAddrs, instances map[string]*instance) *balancer {
	t.Helper()
	cert, pool := testenv.SelfSigned(t)
	cfg := testenv.ReadRepo(t, "packaging/haproxy-regions.cfg")
	replace := func(old, new string, n int) {
		if strings.Count(cfg, old) != n {
			t.Fatalf("packaging/haproxy-regions.cfg no longer holds %q %d times", old, n)
		}
		cfg = strings.ReplaceAll(cfg, old, new)
	}
	replace("bind :443 ssl crt /etc/haproxy/certs/candor.pem", "bind "+lb.public+" ssl crt "+cert, 1)
	replace("bind 10.0.1.1:8080\n", "bind "+lb.in+"\n", 1)
	replace("bind 10.0.2.1:8080\n", "bind "+lb.sg+"\n", 1)
	replace("10.0.1.11:8080", instances["in1"].addr, 2)
	replace("10.0.1.12:8080", instances["in2"].addr, 2)
	replace("10.0.2.11:8080", instances["sg1"].addr, 2)
	replace("10.0.2.12:8080", instances["sg2"].addr, 2)
	for _, l := range []string{"\tuser haproxy\n", "\tgroup haproxy\n", "\tchroot /var/lib/haproxy\n"} {
		replace(l, "", 1) // they need root
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	b := &balancer{URL: "https://" + lb.public, pool: pool, up: map[string]bool{}, change: make(chan struct{})}
	sc := bufio.NewScanner(strings.NewReader(cfg))
	backend := ""
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "backend":
			backend = f[1]
		case len(f) >= 2 && f[0] == "server" && backend != "":
			b.names = append(b.names, backend+"/"+f[1])
			b.up[backend+"/"+f[1]] = true // HAProxy starts a checked server up
		}
	}
	out := newOutput(256 << 10)
	out.watch = func(line string) {
		if m := serverState.FindStringSubmatch(line); m != nil {
			b.mu.Lock()
			if b.up[m[1]] != (m[2] == "UP") {
				b.up[m[1]] = m[2] == "UP"
				close(b.change)
				b.change = make(chan struct{})
			}
			b.mu.Unlock()
		}
	}
	p := start(t, "haproxy", out, haproxy, "-db", "-f", path)
	waitListening(t, lb.public, p)
	return b
}

// servers names every server of every backend, "candor_all/in1".
func (b *balancer) servers() []string { return b.names }

// wait waits until ok holds of the servers' states, up to timeout.
func (b *balancer) wait(t *testing.T, timeout time.Duration, what string, ok func(up map[string]bool) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		done, change := ok(b.up), b.change
		state := fmt.Sprint(b.up)
		b.mu.Unlock()
		if done {
			return
		}
		select {
		case <-change:
		case <-deadline:
			t.Fatalf("HAProxy: not %s within %s: %s", what, timeout, state)
		}
	}
}

// inPools reports whether HAProxy has instance name in every pool it is
// in.
func inPools(name string) func(map[string]bool) bool {
	return func(up map[string]bool) bool {
		for s, u := range up {
			if strings.HasSuffix(s, "/"+name) && !u {
				return false
			}
		}
		return true
	}
}

// outOfPools reports whether HAProxy has taken instance name out of every
// pool it is in.
func outOfPools(name string) func(map[string]bool) bool {
	return func(up map[string]bool) bool {
		for s, u := range up {
			if strings.HasSuffix(s, "/"+name) && u {
				return false
			}
		}
		return true
	}
}

// client is an HTTP client of the public frontend, trusting its
// certificate, whose connections leave from the loopback address local
// (each phone has its own: the sign-in limit is per client address).
func (b *balancer) client(local net.IP) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: local}}
	return &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: b.pool},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}}
}
