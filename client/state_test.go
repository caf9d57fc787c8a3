package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/candorcloud/candor"
)

func TestWriteJSONAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := writeJSON(path, map[string]int{"n": 0}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}

	// Readers racing a writer always see a whole file, old or new.
	big := strings.Repeat("x", 1<<16)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 1; i <= 200; i++ {
			if err := writeJSON(path, map[string]any{"n": i, "pad": big}); err != nil {
				t.Error(err)
				break
			}
		}
		close(stop)
	})
	reads := 0
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		default:
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("read a torn state file (%d bytes): %v", len(b), err)
		}
		reads++
	}
	wg.Wait()

	// A failed write leaves the old content and no temporary file.
	if err := writeJSON(path, map[string]any{"bad": make(chan int)}); err == nil {
		t.Fatal("encoding a channel succeeded")
	}
	var v map[string]any
	if err := readJSON(path, &v); err != nil || v["n"] != float64(200) {
		t.Errorf("after a failed write: %v, %v", v["n"], err)
	}
	if err := writeJSON(filepath.Join(dir, "missing", "x.json"), 1); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("state folder holds %v, want only state.json", names)
	}
}

func TestReadJSON(t *testing.T) {
	dir := t.TempDir()
	var v map[string]any
	if err := readJSON(filepath.Join(dir, "none.json"), &v); !candor.Is(err, candor.NotFound) {
		t.Errorf("missing file: %v, want NotFound", err)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"n": `), 0o600)
	if err := readJSON(filepath.Join(dir, "bad.json"), &v); !candor.Is(err, candor.Integrity) {
		t.Errorf("torn file: %v, want Integrity", err)
	}
}

func testConfig(server string) Config {
	return Config{Server: server, IMEI: "356938035643809", Phone: "+919812345678", Country: "in"}
}

func TestInitOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "phone")
	c, err := Init(dir, testConfig("http://127.0.0.1:1/"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, testConfig("http://127.0.0.1:1")); !candor.Is(err, candor.Conflict) {
		t.Errorf("second init: %v, want Conflict", err)
	}
	if _, err := c.Notes().Add("title", "body"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{dir, filepath.Join(dir, recordsDir)} {
		fi, _ := os.Stat(name)
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode = %v, want 0700", name, fi.Mode().Perm())
		}
	}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if fi.Mode().IsRegular() && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", p, fi.Mode().Perm())
		}
		return nil
	})

	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c2.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Country != "IN" || st.Server != "http://127.0.0.1:1" || st.SignedIn {
		t.Errorf("status = %+v", st)
	}
	for _, cs := range st.Categories {
		if cs.On {
			t.Errorf("%s is on in a new phone", cs.Category)
		}
		if cs.Category == candor.Notes && (cs.Items != 1 || cs.Pending != 1) {
			t.Errorf("notes: %d items, %d pending; want 1, 1", cs.Items, cs.Pending)
		}
	}
	if _, err := Open(t.TempDir()); !candor.Is(err, candor.NotFound) {
		t.Errorf("open of an empty folder: %v, want NotFound", err)
	}
}

func TestInitValidates(t *testing.T) {
	good := testConfig("http://127.0.0.1:1")
	for name, mut := range map[string]func(*Config){
		"server scheme": func(c *Config) { c.Server = "ftp://x" },
		"server empty":  func(c *Config) { c.Server = "" },
		"imei short":    func(c *Config) { c.IMEI = "12345" },
		"imei letters":  func(c *Config) { c.IMEI = "35693803564380a" },
		"phone":         func(c *Config) { c.Phone = "9812345678" },
		"country":       func(c *Config) { c.Country = "IND" },
	} {
		cfg := good
		mut(&cfg)
		if _, err := Init(t.TempDir(), cfg); !candor.Is(err, candor.Invalid) {
			t.Errorf("%s: %v, want Invalid", name, err)
		}
	}
}

// TestNothingLeavesBeforeSignIn checks that local work on a phone that is
// not signed in makes no request at all, and that sync refuses an off
// category with a consent error.
func TestNothingLeavesBeforeSignIn(t *testing.T) {
	c, err := Init(t.TempDir(), testConfig("http://127.0.0.1:1"), WithHTTPClient(failingHTTP(t)))
	if err != nil {
		t.Fatal(err)
	}
	c.Contacts().Add("Ananya", "+919800000001")
	if _, err := c.Sync(t.Context(), nil, candor.Contacts); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("sync of contacts: %v, want ConsentRequired", err)
	}
	if _, err := c.Sync(t.Context(), nil, "bogus"); !candor.Is(err, candor.Invalid) {
		t.Errorf("sync of a bogus category: %v, want Invalid", err)
	}
	if _, err := c.Sync(t.Context(), nil, candor.Messaging); !candor.Is(err, candor.Invalid) {
		t.Errorf("sync of messaging: %v, want Invalid", err)
	}
	if _, err := c.SetConsent(t.Context(), candor.Contacts, true); !candor.Is(err, candor.Unauthenticated) {
		t.Errorf("consent before sign-in: %v, want Unauthenticated", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// failingHTTP is an HTTP client that fails the test on any request.
func failingHTTP(t *testing.T) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		return nil, errors.New("no network in this test")
	})}
}

// Personal data crosses the network only over TLS: plain http is refused
// for any server that is not on this machine.
func TestInitRefusesPlainHTTPToOtherHosts(t *testing.T) {
	cfg := Config{IMEI: "356938035643809", Phone: "+919812345678", Country: "IN"}
	for server, ok := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:1": true, "http://[::1]:8080": true,
		"https://cloud.example.invalid": true, "http://cloud.example.invalid": false, "http://10.0.0.1:8080": false,
		"ftp://127.0.0.1": false,
	} {
		cfg.Server = server
		if err := cfg.validate(); (err == nil) != ok {
			t.Errorf("%s: %v", server, err)
		}
	}
}
