package cluster

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Starting Kannel is copied from internal/server/kannel_test.go, to be
// shared once both settle.

// kannel is a real Kannel on loopback: bearerbox, smsbox, and fakesmsc as
// the carrier, which prints every message it is given.
type kannel struct {
	sendsms  string  // smsbox's sendsms URL
	password string  // the sendsms-user's
	carrier  *output // fakesmsc's output
}

// startKannel starts bearerbox, fakesmsc and smsbox with a generated
// kannel.conf, and waits until the carrier link and smsbox are up.
func startKannel(t *testing.T, bearerbox, smsbox, fakesmsc string) *kannel {
	t.Helper()
	dir := t.TempDir()
	k := &kannel{carrier: newOutput(0), password: "sendsms-" + strconv.Itoa(freePort(t))}
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
	path := filepath.Join(dir, "kannel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	k.sendsms = fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms", sendsms)

	bb := start(t, "bearerbox", newOutput(64<<10), bearerbox, "-v", "2", path)
	waitListening(t, "127.0.0.1:"+strconv.Itoa(smsc), bb)
	start(t, "fakesmsc", k.carrier, fakesmsc, "-H", "127.0.0.1", "-r", strconv.Itoa(smsc), "-m", "0", "1 2 text nop")
	sb := start(t, "smsbox", newOutput(64<<10), smsbox, "-v", "2", path)
	waitListening(t, "127.0.0.1:"+strconv.Itoa(sendsms), sb)
	// Until the carrier link is online, bearerbox would queue the
	// messages; the test wants them delivered.
	status := fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=admin-secret", admin)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(status)
		if err == nil {
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if strings.Contains(b.String(), "online") && strings.Contains(b.String(), "smsbox:") {
				return k
			}
			if time.Now().After(deadline) {
				t.Fatalf("kannel not ready:\n%s", b.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("kannel's admin interface: %v", err)
		}
	}
}

// passwordFile writes the sendsms-user's password to a file, as
// sms.kannel.password_file names it.
func (k *kannel) passwordFile(t *testing.T) string {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "kannel-password")
	if err := os.WriteFile(pw, []byte(k.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pw
}

// fakesmsc prints "Got message N: <from to type data>".
var gotMessage = regexp.MustCompile(`Got message \d+: <(\S+) (\S+) (?:text|ucs-2) (.*)>`)

// codePattern finds a verification code in a text.
var codePattern = regexp.MustCompile(`\b[0-9]{6}\b`)

// texts lists what the carrier was given for each number, in order.
func (k *kannel) texts() map[string][]string {
	got := map[string][]string{}
	for _, m := range gotMessage.FindAllStringSubmatch(k.carrier.String(), -1) {
		got[m[2]] = append(got[m[2]], m[3])
	}
	return got
}

// codes waits until the carrier got a verification code for each number
// and returns the last one of each.
func (k *kannel) codes(t *testing.T, numbers []string) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		texts, codes := k.texts(), map[string]string{}
		for _, n := range numbers {
			if ts := texts[n]; len(ts) > 0 {
				if c := codePattern.FindString(ts[len(ts)-1]); c != "" {
					codes[n] = c
				}
			}
		}
		if len(codes) == len(numbers) {
			return codes
		}
		if time.Now().After(deadline) {
			t.Fatalf("the carrier got codes for %d of %d numbers in 60s", len(codes), len(numbers))
		}
	}
}
