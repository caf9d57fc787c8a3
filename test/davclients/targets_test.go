package davclients

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A target is a CardDAV server under test, holding one account with one
// address book.
type target struct {
	Name string
	// URL is what a person gives vdirsyncer: the server's root or DAV
	// entry point, from which it discovers the account's address book.
	URL                string
	Username, Password string // for Candor: the account's app password
	// Book is the same address book reached without CardDAV — the other
	// side of the account. Nil when the target has none (the benchmark
	// needs none).
	Book addressBook
	// Revoke makes Password stop working, as revoking an app password
	// does. Nil when the target cannot.
	Revoke func(t testing.TB)
}

// addressBook is the account's address book reached without CardDAV:
// for Radicale its storage folder, for Candor a `candor device` phone of
// the account (which syncs before it reads and after it writes).
type addressBook interface {
	// Cards returns every card of the book: UID → FN.
	Cards(t testing.TB) map[string]string
	// Put adds the card, or replaces the one with the same UID.
	Put(t testing.TB, uid string, card []byte)
	// Delete removes the card with uid.
	Delete(t testing.TB, uid string)
}

// radicaleUser is the account the Radicale target holds.
const radicaleUser, radicalePassword = "alice", "correct horse battery staple"

// radicaleTarget starts Radicale on a free port of 127.0.0.1 with a
// fresh storage folder and htpasswd file, creates the account's address
// book "contacts", and stops Radicale (by its process) when the test ends.
// Its Book edits the storage folder directly, as Radicale allows; its
// Revoke empties the htpasswd file, which Radicale reads at each login.
func radicaleTarget(t testing.TB, tl tools) target {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	writeFile(t, users, radicaleUser+":"+radicalePassword+"\n")
	store := filepath.Join(dir, "storage")
	var addr string
	var started bool
	// A port found free may be taken before Radicale binds it: try again.
	for attempt := 0; attempt < 3 && !started; attempt++ {
		addr = freeAddr(t)
		writeFile(t, filepath.Join(dir, "config"), fmt.Sprintf(`[server]
hosts = %s
max_connections = 8
timeout = 30

[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = %s

[web]
type = none

[logging]
level = warning
`, addr, users, store))
		log, err := os.Create(filepath.Join(dir, "radicale.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tl.radicale, "--config", filepath.Join(dir, "config"))
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// exited is closed when Radicale has exited and been waited for.
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); log.Close(); close(exited) }()
		stop := func() {
			select {
			case <-exited:
				return
			default:
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		started = waitListening(addr, exited, 15*time.Second)
		if !started {
			stop()
			out, _ := os.ReadFile(filepath.Join(dir, "radicale.log"))
			t.Logf("radicale did not start on %s:\n%s", addr, out)
			continue
		}
		t.Cleanup(stop)
	}
	if !started {
		t.Fatal("radicale did not start")
	}
	root := "http://" + addr + "/"
	mkcol(t, root+radicaleUser+"/contacts/", radicaleUser, radicalePassword)
	return target{
		Name:     "radicale",
		URL:      root,
		Username: radicaleUser,
		Password: radicalePassword,
		Book:     radicaleBook{dir: filepath.Join(store, "collection-root", radicaleUser, "contacts")},
		Revoke: func(t testing.TB) {
			writeFile(t, users, "")
		},
	}
}

// radicaleBook is a Radicale address book's storage folder: one .vcf
// file per card.
type radicaleBook struct{ dir string }

func (b radicaleBook) Cards(t testing.TB) map[string]string { return readCardDir(t, b.dir) }

func (b radicaleBook) Put(t testing.TB, uid string, card []byte) {
	t.Helper()
	p := cardFile(t, b.dir, uid)
	if p == "" {
		p = filepath.Join(b.dir, uid+".vcf")
	}
	if err := os.WriteFile(p, card, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (b radicaleBook) Delete(t testing.TB, uid string) {
	t.Helper()
	p := cardFile(t, b.dir, uid)
	if p == "" {
		t.Fatalf("radicale storage: no card %s", uid)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

// mkcol creates an address book with an extended MKCOL (RFC 5689).
func mkcol(t testing.TB, url, username, password string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
 <D:set><D:prop>
  <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
  <D:displayname>Contacts</D:displayname>
 </D:prop></D:set>
</D:mkcol>`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "MKCOL", url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCOL %s: %s", url, resp.Status)
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitListening reports whether addr accepts connections within d,
// giving up early when the process has exited.
func waitListening(addr string, exited <-chan struct{}, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// authFailure reports whether vdirsyncer's output says the server refused
// the credentials.
func authFailure(out string) bool {
	return strings.Contains(out, "401") || strings.Contains(strings.ToLower(out), "unauthorized")
}
