package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/exportfmt"
	"github.com/candorcloud/candor/internal/httpapi"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// tokenOf is a transport that keeps the session token a phone sends, so a
// test can ask what a browser signed into the same account would.
type tokenOf struct {
	mu    sync.Mutex
	token string
}

func (c *tokenOf) RoundTrip(r *http.Request) (*http.Response, error) {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c.mu.Lock()
		c.token = t
		c.mu.Unlock()
	}
	return httpClient.Transport.RoundTrip(r)
}

func (c *tokenOf) get() string { c.mu.Lock(); defer c.mu.Unlock(); return c.token }

// exportPhone is a new phone signed up as email with every synced category
// on, and the transport that keeps its token.
func exportPhone(t *testing.T, env *servertest.Env, imei, email string) (*client.Client, *tokenOf) {
	t.Helper()
	tok := &tokenOf{}
	c := phoneWith(t, env, imei, client.WithHTTPClient(&http.Client{Transport: tok}))
	if _, err := c.Signup(t.Context(), email, canaryPassword); err != nil {
		t.Fatal(err)
	}
	for _, cat := range []candor.Category{candor.Contacts, candor.Notes, candor.SMS, candor.Photos} {
		if _, err := c.SetConsent(t.Context(), cat, true); err != nil {
			t.Fatal(err)
		}
	}
	return c, tok
}

// zipEntry is one entry of an export zip.
type zipEntry struct {
	name string
	mod  time.Time
	data []byte
}

func readZip(t *testing.T, b []byte) []zipEntry {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a whole zip: %v", err)
	}
	var out []zipEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out = append(out, zipEntry{f.Name, f.Modified, data})
	}
	return out
}

// serverExport downloads the account's export with token.
func serverExport(t *testing.T, env *servertest.Env, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.URL+"/v1/account/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("export body: %v", err)
	}
	return resp, b
}

// phoneExport is the phone's `device export --out FILE.zip`.
func phoneExport(t *testing.T, c *client.Client) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "phone.zip")
	if _, err := c.Export(t.Context(), out, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameExport compares the phone's and the server's export entry by entry.
// What must differ, and is not compared: the manifest's exported_at, and
// the times of the entries that are the export's own (every entry but a
// photo's, whose time is the photo's).
func sameExport(t *testing.T, phone, cloud []zipEntry) exportfmt.Manifest {
	t.Helper()
	if len(phone) != len(cloud) {
		t.Errorf("the phone's export has %d entries, the server's %d", len(phone), len(cloud))
	}
	var m exportfmt.Manifest
	for i := range min(len(phone), len(cloud)) {
		p, c := phone[i], cloud[i]
		if p.name != c.name {
			t.Errorf("entry %d: the phone's is %q, the server's %q", i, p.name, c.name)
			continue
		}
		switch {
		case p.name == exportfmt.ManifestFile:
			var pm, cm exportfmt.Manifest
			if json.Unmarshal(p.data, &pm) != nil || json.Unmarshal(c.data, &cm) != nil {
				t.Fatalf("a manifest does not read")
			}
			if pm.ExportedAt.IsZero() || cm.ExportedAt.IsZero() {
				t.Errorf("a manifest has no export time")
			}
			pm.ExportedAt, cm.ExportedAt = time.Time{}, time.Time{}
			pb, _ := json.Marshal(pm)
			cb, _ := json.Marshal(cm)
			if !bytes.Equal(pb, cb) {
				t.Errorf("the manifests differ beyond the export time:\nphone  %s\nserver %s", pb, cb)
			}
			m = cm
		case !bytes.Equal(p.data, c.data):
			t.Errorf("%s differs: the phone's has %d bytes, the server's %d", p.name, len(p.data), len(c.data))
		case strings.HasPrefix(p.name, exportfmt.PhotosDir+"/") && !strings.HasSuffix(p.name, "/") && !p.mod.Equal(c.mod):
			t.Errorf("%s: the phone's time is %v, the server's %v", p.name, p.mod, c.mod)
		}
	}
	return m
}

const exportCardsCRLF = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Zed Crlf\r\nTEL:+919800000003\r\nEND:VCARD" // no final line break

// The server's export of an account is the phone's export, entry by entry
// and byte for byte, but for the export's time; a category turned off is
// absent from both; another account's data is never in it; each export is
// in the owner's access log, with its count.
func TestAccountExportMatchesPhone(t *testing.T) {
	env := servertest.Start(t)
	a, tokA := exportPhone(t, env, canaryIMEI, canaryEmail)
	if _, err := a.Contacts().ImportVCard(strings.NewReader(exportCardsCRLF)); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{canaryName, canaryPhone}, {"Asha Verma", "+919812345670"}} {
		if _, err := a.Contacts().Add(c[0], c[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range [][2]string{{"Shopping", canaryNote}, {"shopping", "the same title but for case"}, {"../../escape", "a path"}, {"", "no title"}} {
		if _, err := a.Notes().Add(n[0], n[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.SMS().Import(strings.NewReader(`<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="2">
  <sms protocol="0" address="+919812345671" date="1700000100000" type="1" body="Saffron-kettle at nine" read="1" />
  <sms protocol="0" address="+919812345672" date="1700000000000" type="2" body="an earlier one" read="1" />
</smses>`)); err != nil {
		t.Fatal(err)
	}
	pics := t.TempDir()
	taken := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	for i, name := range []string{"IMG_0002.jpg", "IMG_0001.jpg", "img_0001.JPG"} {
		p := filepath.Join(pics, name)
		os.WriteFile(p, []byte(strings.Repeat("PHOTO-BYTES-"+name, 3000+i)), 0o600)
		os.Chtimes(p, taken.Add(time.Duration(i)*time.Hour), taken.Add(time.Duration(i)*time.Hour))
		if _, err := a.Photos().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	// A second phone of the account adds a note: both exports have it.
	a2 := loggedIn(t, env, "356938035643817")
	mustSync(t, a2)
	if _, err := a2.Notes().Add("from the tablet", "written elsewhere"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a)
	mustSync(t, a2)

	// Another account, with data of its own.
	b, tokB := exportPhone(t, env, "356938035643825", "another@example.invalid")
	if _, err := b.Contacts().Add("Bram Outsider", "+919812340000"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Notes().Add("B's note", "Quince-lattice of the other account"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b)

	phone := readZip(t, phoneExport(t, a))
	resp, body := serverExport(t, env, tokA.get())
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/zip" {
		t.Errorf("Content-Type %q", ct)
	}
	want := `attachment; filename="candor-export-` + time.Now().UTC().Format(time.DateOnly) + `.zip"`
	if cd := resp.Header.Get("Content-Disposition"); cd != want && !regexp.MustCompile(`^attachment; filename="candor-export-\d{4}-\d{2}-\d{2}\.zip"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q, want %q", cd, want)
	}
	cloud := readZip(t, body)
	m := sameExport(t, phone, cloud)
	names := map[string]bool{}
	for _, e := range cloud {
		names[e.name] = true
	}
	for _, n := range []string{"contacts.vcf", "notes/Shopping.txt", "notes/shopping (2).txt", "notes/_.._escape.txt", "notes/from the tablet.txt",
		"sms.xml", "photos/IMG_0001.jpg", "photos/img_0001 (2).JPG", "photos/IMG_0002.jpg", "manifest.json"} {
		if !names[n] {
			t.Errorf("the server's export has no %s (it has %v)", n, names)
		}
	}
	if m.Account == "" || m.Items() != 3+5+2+3 {
		t.Errorf("manifest: account %q, %d items, want 13", m.Account, m.Items())
	}
	if bytes.Contains(body, []byte("Quince-lattice")) || bytes.Contains(body, []byte("Bram Outsider")) {
		t.Error("another account's data is in the export")
	}
	entries, err := a.AccessLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var logged []client.Access
	for _, e := range entries {
		if e.Action == "account.export" {
			logged = append(logged, e)
		}
	}
	if len(logged) != 1 || logged[0].Outcome != "ok" || logged[0].Count != 13 {
		t.Errorf("the export in the access log: %+v", logged)
	}

	// The other account's export holds its own data only.
	_, bodyB := serverExport(t, env, tokB.get())
	sameExport(t, readZip(t, phoneExport(t, b)), readZip(t, bodyB))
	for _, s := range []string{canaryNote, canaryName, "Saffron-kettle", "PHOTO-BYTES"} {
		if bytes.Contains(bodyB, []byte(s)) {
			t.Errorf("%q of the first account is in the second's export", s)
		}
	}

	// Notes off: the cloud copy is gone; neither export has notes.
	if _, err := a.SetConsent(t.Context(), candor.Notes, false); err != nil {
		t.Fatal(err)
	}
	phone = readZip(t, phoneExport(t, a))
	resp, body = serverExport(t, env, tokA.get())
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	cloud = readZip(t, body)
	m = sameExport(t, phone, cloud)
	for _, e := range cloud {
		if strings.HasPrefix(e.name, "notes") {
			t.Errorf("notes are off but the export has %s", e.name)
		}
	}
	for _, c := range m.Categories {
		if c.Category == candor.Notes && (c.On || c.Count != 0) {
			t.Errorf("notes in the manifest: %+v", c)
		}
	}
	if bytes.Contains(body, []byte(canaryNote)) {
		t.Error("a note is in the export with notes off")
	}
}

// bigPhotoAccount is an account with one photo of size random bytes (an
// export of it does not fit in the connection's buffers).
func bigPhotoAccount(t *testing.T, env *servertest.Env, imei, email string, size int) (*client.Client, *tokenOf) {
	t.Helper()
	c, tok := exportPhone(t, env, imei, email)
	p := filepath.Join(t.TempDir(), "big.jpg")
	b := make([]byte, size)
	rand.Read(b)
	os.WriteFile(p, b, 0o600)
	if _, err := c.Photos().Add(p); err != nil {
		t.Fatal(err)
	}
	mustSync(t, c)
	return c, tok
}

// startExport starts an export and reads its first bytes; the caller
// holds the body open (the export waits for it) and closes it.
func startExport(t *testing.T, env *servertest.Env, token string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", env.URL+"/v1/account/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("export: %d %s", resp.StatusCode, b)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1024)); err != nil {
		t.Fatal(err)
	}
	return resp, cancel
}

// refusedWith asks for an export and wants status, with a Retry-After.
func refusedWith(t *testing.T, env *servertest.Env, token string, status int) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", env.URL+"/v1/account/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || resp.Header.Get("Retry-After") == "" || !bytes.Contains(b, []byte(`"code"`)) {
		t.Errorf("export: %d (Retry-After %q) %s, want %d with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), b, status)
	}
}

// Exports are bounded: a second one of an account while one streams is
// 429, one past the server's bound 503, both with Retry-After. A download
// cut by the client frees its slot, leaves no goroutine and no temporary
// file, and is in the owner's log as failed; a download cut by the server
// is visibly incomplete.
func TestAccountExportBoundsAndCuts(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	env := servertest.Start(t)
	const size = 8 << 20
	var toks []*tokenOf
	var owner *client.Client
	for i := range httpapi.MaxExports + 1 {
		c, tok := bigPhotoAccount(t, env, fmt.Sprintf("35693803564%04d", 3900+i*8), fmt.Sprintf("bound%d@example.invalid", i), size)
		if i == 0 {
			owner = c
		}
		toks = append(toks, tok)
	}
	before := runtime.NumGoroutine()

	// HEAD answers the headers without the cost of an export (and is not
	// an export in the owner's log).
	req, _ := http.NewRequestWithContext(t.Context(), "HEAD", env.URL+"/v1/account/export", nil)
	req.Header.Set("Authorization", "Bearer "+toks[0].get())
	if resp, err := httpClient.Do(req); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("HEAD: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Without a session, or with a made-up one: no export.
	for _, token := range []string{"", "cdt_madeup"} {
		resp, body := serverExport(t, env, token)
		if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("PK")) {
			t.Errorf("export with token %q: %d", token, resp.StatusCode)
		}
	}

	first, cancelFirst := startExport(t, env, toks[0].get())
	refusedWith(t, env, toks[0].get(), http.StatusTooManyRequests)
	var held []*http.Response
	var cancels []context.CancelFunc
	for _, tok := range toks[1:httpapi.MaxExports] {
		r, c := startExport(t, env, tok.get())
		held, cancels = append(held, r), append(cancels, c)
	}
	refusedWith(t, env, toks[httpapi.MaxExports].get(), http.StatusServiceUnavailable)
	for i := range held {
		cancels[i]()
		held[i].Body.Close()
	}

	// Cut by the client: the slot comes free, the export is logged failed.
	cancelFirst()
	first.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := serverExport(t, env, toks[0].get())
		if resp.StatusCode == 200 {
			if len(readZip(t, body)) == 0 {
				t.Error("an empty export")
			}
			break
		}
		if resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after a cut export: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	httpClient.CloseIdleConnections()
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before+2; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after the cut exports\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
	entries, err := owner.AccessLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range entries {
		if e.Action == "account.export" {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if strings.Join(outcomes, " ") != "failed ok" {
		t.Errorf("the owner's log has exports %v, want the cut one failed, then one ok", outcomes)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		t.Errorf("temporary files left: %v", names)
	}
}

// An export the server cannot finish after its first bytes (here: photos
// turned off, so their cloud copy deleted, while one streams) ends with the
// connection cut, never as a complete answer or a whole-looking zip.
func TestAccountExportCutIsIncomplete(t *testing.T) {
	env := servertest.Start(t)
	_, tok := bigPhotoAccount(t, env, "356938035649991", "cut@example.invalid", 8<<20)
	resp, cancel := startExport(t, env, tok.get())
	defer cancel()
	// Turning photos off mid-stream deletes the cloud copy: the stream
	// cannot go on and must not end as a whole zip.
	c := loggedInAs(t, env, "356938035649992", "cut@example.invalid")
	if _, err := c.SetConsent(t.Context(), candor.Photos, false); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		if _, zerr := zip.NewReader(bytes.NewReader(b), int64(len(b))); zerr == nil {
			t.Fatal("an export cut mid-stream reads as a whole zip")
		}
		t.Fatal("an export cut mid-stream ended as a complete answer")
	}
}

// loggedInAs is a new phone logged into the account of email.
func loggedInAs(t *testing.T, env *servertest.Env, imei, email string) *client.Client {
	t.Helper()
	c := newPhone(t, env, imei)
	if _, err := c.Login(t.Context(), email, canaryPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

// A client that stops reading an export is cut after the stall bound: its
// slot comes free for the next export, and the cut one is logged failed.
func TestAccountExportStalledClient(t *testing.T) {
	env := servertest.StartWith(t, server.Config{HTTP: httpapi.Options{ExportStall: 2 * time.Second}})
	c, tok := bigPhotoAccount(t, env, "356938035649983", "stall@example.invalid", 8<<20)
	resp, cancel := startExport(t, env, tok.get()) // and read no more
	defer func() { cancel(); resp.Body.Close() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, body := serverExport(t, env, tok.get())
		if r.StatusCode == 200 {
			readZip(t, body)
			break
		}
		if r.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("while a client stalls: %d %s", r.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, err := c.AccessLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, e := range entries {
		if e.Action == "account.export" {
			outcomes = append(outcomes, e.Outcome)
		}
	}
	if strings.Join(outcomes, " ") != "failed ok" {
		t.Errorf("exports in the owner's log: %v, want failed then ok", outcomes)
	}
}

// An account whose category holds more record data than an export may
// hold is refused with 413 before anything is streamed, and the refusal
// is in the owner's log.
func TestAccountExportMemoryBound(t *testing.T) {
	env := servertest.StartWith(t, server.Config{HTTP: httpapi.Options{ExportMemory: 200}})
	c, tok := exportPhone(t, env, canaryIMEI, canaryEmail)
	for i := range 4 {
		if _, err := c.Contacts().Add(fmt.Sprintf("%s %d", canaryName, i), canaryPhone); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, c)
	resp, body := serverExport(t, env, tok.get())
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte(`"too_large"`)) || bytes.Contains(body, []byte(canaryName)) {
		t.Fatalf("export over the bound: %d %s", resp.StatusCode, body)
	}
	entries, err := c.AccessLog(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Action == "account.export" {
			got = append(got, e.Outcome+" "+e.Code)
		}
	}
	if strings.Join(got, ",") != "denied too_large" {
		t.Errorf("exports in the owner's log: %v", got)
	}
}
