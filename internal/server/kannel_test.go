package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/internal/messaging/kannel"
	"github.com/candorcloud/candor/internal/retention"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// kannelBoxes is a real Kannel on loopback: bearerbox, smsbox, and
// fakesmsc as the carrier, which prints every message it is given.
type kannelBoxes struct {
	t        *testing.T
	dir      string
	sendsms  string // smsbox's sendsms URL
	smsbox   *exec.Cmd
	conf     string          // kannel.conf
	smsboxAt string          // smsbox's binary
	smsDone  <-chan struct{} // closed when smsbox has exited
	smsOut   *syncBuffer     // smsbox's own log output
	carrier  *syncBuffer     // fakesmsc's output
	password string
}

// syncBuffer collects a process's output for the test to read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kannelBinary finds one of Kannel's programs; CANDOR_TEST_KANNEL=1 (set
// by CI) makes a missing one a failure instead of a skip.
func kannelBinary(t *testing.T, name string, places ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range places {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CANDOR_TEST_KANNEL") != "" || os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: install the Debian packages kannel and kannel-extras (scripts/ci/kannel.sh)", name)
	}
	t.Skipf("%s not found: install the Debian packages kannel and kannel-extras", name)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startKannel starts bearerbox, fakesmsc and smsbox with a generated
// kannel.conf, waits until the carrier link and smsbox are up, and stops
// them when the test ends.
func startKannel(t *testing.T) *kannelBoxes {
	t.Helper()
	bearerbox := kannelBinary(t, "bearerbox", "/usr/sbin/bearerbox")
	smsbox := kannelBinary(t, "smsbox", "/usr/sbin/smsbox")
	fakesmsc := kannelBinary(t, "fakesmsc", "/usr/lib/kannel/test/fakesmsc")
	k := &kannelBoxes{t: t, dir: t.TempDir(), smsOut: &syncBuffer{}, carrier: &syncBuffer{}, password: "sendsms-" + strconv.Itoa(freePort(t))}
	admin, box, smsc, sendsms := freePort(t), freePort(t), freePort(t), freePort(t)
	conf := fmt.Sprintf(`group = core
admin-port = %d
admin-interface = 127.0.0.1
admin-password = admin-secret
smsbox-port = %d
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-level = 2

group = smsc
smsc = fake
smsc-id = fake
port = %d
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = %d
sendsms-port = %d
sendsms-interface = 127.0.0.1
log-level = 2

group = sendsms-user
username = candor
password = %s
concatenation = true
max-messages = 10
`, admin, box, smsc, box, sendsms, k.password)
	path := filepath.Join(k.dir, "kannel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	k.sendsms = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms)

	k.start(exec.Command(bearerbox, "-v", "2", path), &syncBuffer{})
	waitListening(t, smsc)
	k.start(exec.Command(fakesmsc, "-H", "127.0.0.1", "-r", strconv.Itoa(smsc), "-m", "0", "1 2 text nop"), k.carrier)
	k.conf, k.smsboxAt = path, smsbox
	k.startSMSBox()
	// Until the carrier link is online, bearerbox would queue the
	// messages; the tests want them delivered.
	status := fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=admin-secret", admin)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(status)
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if strings.Contains(b.String(), "online") && strings.Contains(b.String(), "smsbox:") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kannel not ready:\n%s", b.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("kannel's admin interface: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return k
}

// startSMSBox starts smsbox and waits for its sendsms port.
func (k *kannelBoxes) startSMSBox() {
	k.t.Helper()
	cmd := exec.Command(k.smsboxAt, "-v", "2", k.conf)
	k.smsDone = k.start(cmd, k.smsOut)
	k.smsbox = cmd
	u, _ := url.Parse(k.sendsms)
	port, _ := strconv.Atoi(u.Port())
	waitListening(k.t, port)
}

// start starts cmd and stops it (only it) when the test ends.
func (k *kannelBoxes) start(cmd *exec.Cmd, out *syncBuffer) <-chan struct{} {
	k.t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	k.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return done
}

// stopSMSBox stops smsbox, as when the gateway is down.
func (k *kannelBoxes) stopSMSBox() {
	k.smsbox.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.smsDone:
	case <-time.After(10 * time.Second):
		k.t.Fatal("smsbox did not stop")
	}
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !listening(port); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d", port)
		}
	}
}

// config is the server's "sms" section for this Kannel.
func (k *kannelBoxes) config() *server.SMS {
	k.t.Helper()
	pw := filepath.Join(k.dir, "sendsms-password")
	if err := os.WriteFile(pw, []byte(k.password+"\n"), 0o600); err != nil {
		k.t.Fatal(err)
	}
	return &server.SMS{Kannel: &server.Kannel{URL: k.sendsms, Username: "candor", PasswordFile: pw, From: "Candor"}}
}

type carried struct{ from, to, text string }

// fakesmsc prints "Got message N: <from to type data>".
var gotMessage = regexp.MustCompile(`Got message \d+: <(\S+) (\S+) (text|ucs-2) (.*)>`)

// received waits for the n-th message the carrier got (from 1).
func (k *kannelBoxes) received(n int) carried {
	k.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		all := gotMessage.FindAllStringSubmatch(k.carrier.String(), -1)
		if len(all) >= n {
			m := all[n-1]
			text := m[4]
			if m[3] == "ucs-2" { // UCS-2 (UTF-16BE), form-encoded
				b, err := url.QueryUnescape(text)
				if err != nil || len(b)%2 != 0 {
					k.t.Fatalf("carrier got undecodable UCS-2 %q", text)
				}
				u := make([]uint16, len(b)/2)
				for i := range u {
					u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
				}
				text = string(utf16.Decode(u))
			}
			return carried{from: m[1], to: m[2], text: text}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("the carrier got %d messages, not %d:\n%s", len(all), n, k.carrier.String())
		}
	}
}

// A phone turning messaging on through a server configured with Kannel:
// the code arrives at the carrier, to the phone's number, and turns
// messaging on; neither the server's logs nor smsbox's (at the documented
// log level) hold the number or the text.
func TestKannelVerification(t *testing.T) {
	k := startKannel(t)
	env := servertest.StartWith(t, server.Config{SMS: k.config()})
	ctx := context.Background()
	phone := signedUp(t, env, "490154203237518")

	// No emulated carrier with a real gateway: the SDK asks for the code.
	if _, err := phone.ActivateMessaging(ctx, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("activation without the code: %v", err)
	}
	got := k.received(1)
	code := codePattern.FindString(got.text)
	if got.to != "+919812345678" || got.from != "Candor" || code == "" || !strings.Contains(got.text, "Candor messaging code") {
		t.Fatalf("the carrier got %+v", got)
	}
	if c, err := phone.ActivateMessaging(ctx, code); err != nil || !c.On {
		t.Fatalf("activation with the code from the carrier: %+v %v", c, err)
	}
	for name, logs := range map[string]string{"server": env.Logs.String(), "smsbox": k.smsOut.String()} {
		for _, secret := range []string{"9812345678", code, got.text, k.password} {
			if strings.Contains(logs, secret) {
				t.Errorf("the %s logs hold %q", name, secret)
			}
		}
	}
}

// Text beyond ASCII (a fallback text in any script) arrives intact, and
// plain ASCII stays in the default alphabet.
func TestKannelUnicode(t *testing.T) {
	k := startKannel(t)
	g, err := kannel.New(kannel.Config{URL: k.sendsms, Username: "candor", Password: k.password, From: "Candor"})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Новое сообщение от Анны — откройте Candor ✓",
		"आपके लिए एक नया संदेश है",
		"plain ASCII, 100% [not] {GSM-basic}",
		"Candor: 1 new message",
	}
	for i, text := range texts {
		if err := g.SendSMS(context.Background(), "+919833334444", text); err != nil {
			t.Fatal(err)
		}
		if got := k.received(i + 1); got.text != text || got.to != "+919833334444" {
			t.Errorf("sent %q, the carrier got %+v", text, got)
		}
	}
}

// With smsbox down, asking for a code is a 503 with Retry-After naming
// neither the number nor anything else personal, and messaging stays off;
// once smsbox is back, the same phone turns messaging on.
func TestKannelDown(t *testing.T) {
	k := startKannel(t)
	env := servertest.StartWith(t, server.Config{SMS: k.config()})
	ctx := context.Background()
	r, _ := signup(t, env, "IN")
	k.stopSMSBox()

	body := `{"phone":"+919833334444"}`
	req, _ := http.NewRequest("POST", env.URL+"/v1/messaging/verification", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("gateway down: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b.String())
	}
	if strings.Contains(b.String(), "9833334444") || strings.Contains(env.Logs.String(), "9833334444") {
		t.Errorf("the number leaked: %s", b.String())
	}
	var c api.Consents
	r.must("GET", "/v1/consents", nil, &c)
	for _, x := range c.Consents {
		if x.Category == "messaging" && x.On {
			t.Fatal("messaging is on")
		}
	}
	if got := k.carrier.String(); gotMessage.MatchString(got) {
		t.Fatalf("the carrier got a message: %s", got)
	}

	k.startSMSBox()
	phone := signedUp(t, env, "490154203237518")
	if _, err := phone.ActivateMessaging(ctx, ""); !candor.Is(err, candor.Invalid) {
		t.Fatalf("activation without the code: %v", err)
	}
	got := k.received(1)
	code := codePattern.FindString(got.text)
	if c, err := phone.ActivateMessaging(ctx, code); got.to != "+919812345678" || err != nil || !c.On {
		t.Fatalf("activation once smsbox is back: %+v %v", c, err)
	}
}

// A wrong "sms" section stops the server at start, without quoting the
// password.
func TestKannelConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("hunter2-secret\n"), 0o600)
	for _, k := range []server.Kannel{
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "candor"},
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "candor", PasswordFile: filepath.Join(dir, "missing")},
		{URL: "127.0.0.1:13013", Username: "candor", PasswordFile: pw},
		{URL: "http://candor:hunter2-secret@127.0.0.1:13013/cgi-bin/sendsms", Username: "candor", PasswordFile: pw},
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", PasswordFile: pw},
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "candor", PasswordFile: pw, Timeout: retention.Duration(time.Hour)},
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "candor", PasswordFile: pw, DLRURL: "127.0.0.1:8080"},
		{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "candor", PasswordFile: pw, DLRURL: "http://candor:hunter2-secret@127.0.0.1:8080"},
	} {
		s, err := server.New(context.Background(), server.Config{Dev: true, Data: t.TempDir(), SMS: &server.SMS{Kannel: &k}})
		if err == nil {
			s.Close()
			t.Errorf("started with %+v", k)
			continue
		}
		if !strings.Contains(err.Error(), "sms.kannel") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%+v: %v", k, err)
		}
	}

	if s, err := server.New(context.Background(), server.Config{Dev: true, Data: t.TempDir(), SMS: &server.SMS{}}); err == nil {
		s.Close()
		t.Error("started with an empty sms section")
	}

	// The section as configuration.md shows it loads and starts (Kannel is
	// not called at start).
	file := filepath.Join(dir, "candor.json")
	os.WriteFile(file, []byte(`{"dev": true, "sms": {"kannel": {"url": "http://127.0.0.1:13013/cgi-bin/sendsms",
		"username": "candor", "password_file": "`+pw+`", "from": "Candor", "timeout": "10s",
		"dlr_url": "http://127.0.0.1:8080"}}}`), 0o600)
	cfg, err := server.LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.SMS.Kannel; k.Username != "candor" || k.From != "Candor" || time.Duration(k.Timeout) != 10*time.Second ||
		k.DLRURL != "http://127.0.0.1:8080" {
		t.Fatalf("loaded %+v", k)
	}
	cfg.Data = t.TempDir()
	s, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
