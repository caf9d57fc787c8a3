package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/internal/proxytest"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/server/servertest"
	"github.com/candorcloud/candor/internal/store/pgtest"
)

// The attacks on the server's dependencies from outside: PostgreSQL cut
// off behind a proxy, the data folder's disk full. While a dependency is
// gone every answer is a 4xx or a 503 unavailable with Retry-After and a
// sentence naming what is missing, /readyz says 503, nothing is logged as
// a server error; once it is back, phones sync and nothing is lost.

// through rewrites a PostgreSQL DSN to connect through px.
func through(t *testing.T, px *proxytest.Proxy, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = px.Addr
	return u.String()
}

// reply is an answer with its Retry-After header.
type reply struct {
	answer
	retryAfter string
}

// ask sends v as JSON (nil: no body) as r would, keeping Retry-After.
func ask(r *raw, method, path string, v any) reply {
	r.t.Helper()
	var body []byte
	if v != nil {
		body, _ = json.Marshal(v)
	}
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{answer{resp.StatusCode, b}, resp.Header.Get("Retry-After")}
}

// outageRequests are what phones send while a dependency is gone: pulls,
// pushes, consent changes, logins, photo uploads, account reads.
func outageRequests(r *raw, epoch int64) map[string]func() reply {
	anon := &raw{t: r.t, url: r.url}
	return map[string]func() reply{
		"pull": func() reply { return ask(r, "GET", "/v1/records/notes?since=0", nil) },
		"push": func() reply {
			return ask(r, "POST", "/v1/records/notes", api.PushRequest{Epoch: epoch,
				Changes: []api.Change{{ID: fmt.Sprintf("rec_%d", time.Now().UnixNano()), Data: randomBytes(64)}}})
		},
		"consent": func() reply { return ask(r, "PUT", "/v1/consents/contacts", api.ConsentRequest{On: true}) },
		"login": func() reply {
			return ask(anon, "POST", "/v1/sessions", api.LoginRequest{Handle: randomBytes(32),
				AuthKey: randomBytes(32), Device: api.DeviceInfo{Pseudonym: randomBytes(32)}})
		},
		"salt": func() reply { return ask(anon, "POST", "/v1/auth/salt", api.SaltRequest{Handle: randomBytes(32)}) },
		"upload": func() reply {
			return ask(r, "POST", "/v1/photos/uploads", api.UploadCreate{Size: 5, Hash: randomBytes(32)})
		},
		"account": func() reply { return ask(r, "GET", "/v1/account", nil) },
		"devices": func() reply { return ask(r, "GET", "/v1/devices", nil) },
	}
}

// checkReply fails unless a is a 2xx or 4xx, or a 503 unavailable with
// Retry-After and a sentence that shows no internals.
func checkReply(t *testing.T, name string, a reply) {
	t.Helper()
	switch {
	case a.status < 500:
	case a.status == 503:
		e := a.error()
		if e.Code != "unavailable" || e.Message == "" || a.retryAfter == "" {
			t.Errorf("%s: 503 %s, Retry-After %q: want code unavailable, a sentence and Retry-After", name, a.body, a.retryAfter)
		}
		for _, internal := range []string{"127.0.0.1", "sqlstore", "dial", "tcp", "errno", "SQLITE"} {
			if strings.Contains(e.Message, internal) {
				t.Errorf("%s: the answer shows internals: %q", name, e.Message)
			}
		}
	default:
		t.Errorf("%s: %d %s, want a 4xx or a 503", name, a.status, a.body)
	}
}

// attack sends every outage request rounds times, checks each answer
// (checkReply) and returns their count by status.
func attack(t *testing.T, r *raw, epoch int64, rounds int) map[int]int {
	t.Helper()
	byStatus := map[int]int{}
	for range rounds {
		for name, send := range outageRequests(r, epoch) {
			a := send()
			byStatus[a.status]++
			checkReply(t, name, a)
		}
	}
	return byStatus
}

// readyz returns /readyz's status and error message.
func readyz(r *raw) (int, string) {
	a := (&raw{t: r.t, url: r.url}).call("GET", "/readyz", nil, nil)
	return a.status, a.error().Message
}

// waitReady waits up to 20 s for /readyz to answer 200.
func waitReady(t *testing.T, r *raw) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, msg := readyz(r)
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 20 s after recovery: %d %s", status, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noServerErrors fails if the server logged a request as failed, or
// answered a status that is neither 2xx, 4xx, 499 nor 503.
func noServerErrors(t *testing.T, env *servertest.Env) {
	t.Helper()
	logs := env.Logs.String()
	if strings.Contains(logs, `"msg":"request failed"`) {
		t.Errorf("server errors logged during the outage:\n%s", grepLines(logs, "request failed"))
	}
	for _, line := range strings.Split(logs, "\n") {
		for _, bad := range []string{`"status":500`, `"status":502`, `"status":504`} {
			if strings.Contains(line, bad) {
				t.Errorf("answered %s: %s", bad, line)
			}
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// nothingLost checks, after recovery, that phone syncs what it wrote
// during the outage and a second phone of the account gets every note.
func nothingLost(t *testing.T, env *servertest.Env, phone *client.Client, titles ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := phone.Sync(ctx, nil); err != nil {
		t.Fatalf("the first sync after recovery: %v", err)
	}
	other := loggedIn(t, env, "356938035643810")
	if _, err := other.Sync(ctx, nil); err != nil {
		t.Fatalf("another phone's sync after recovery: %v", err)
	}
	notes, err := other.Notes().List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range notes {
		got[n.Title] = true
	}
	for _, title := range titles {
		if !got[title] {
			t.Errorf("note %q lost; the other phone has %d notes", title, len(notes))
		}
	}
}

// TestPostgresCutAnswers503 cuts the server off from PostgreSQL (a proxy
// in between drops every connection and refuses new ones) and restores it.
func TestPostgresCutAnswers503(t *testing.T) {
	pg := servertest.Postgres(t)
	upstream, err := url.Parse(os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	px := proxytest.New(t, upstream.Host)
	pg.Directory = through(t, px, pg.Directory)
	for id, dsn := range pg.Regions {
		pg.Regions[id] = through(t, px, dsn)
	}
	env := servertest.StartWith(t, server.Config{Postgres: pg})
	ctx := context.Background()

	phone := signedUp(t, env, canaryIMEI, candor.Notes)
	if _, err := phone.Notes().Add("before the outage", "kept"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, phone)
	r, _ := signup(t, env, "IN")
	epoch := r.consent("notes", true)
	r.consent("photos", true)
	before, _ := scrape(t, env)

	px.Cut(true)
	if _, err := phone.Notes().Add("during the outage", "kept on the phone"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := phone.Sync(short, nil); !candor.Is(err, candor.Unavailable) {
		t.Errorf("a sync during the outage: %v, want unavailable", err)
	}
	cancel()
	byStatus := attack(t, r, epoch, 3)
	t.Logf("answers during the cut, by status: %v", byStatus)
	if status, msg := readyz(r); status != 503 || !strings.Contains(msg, "database") {
		t.Errorf("/readyz during the cut: %d %q, want 503 naming the database", status, msg)
	}
	noServerErrors(t, env)

	px.Cut(false)
	waitReady(t, r)
	nothingLost(t, env, phone, "before the outage", "during the outage")
	after, _ := scrape(t, env) // the operator sees the outage as failures
	grew(t, before, after, -1, "candor_request_failures_total", "kind", "unavailable")
}

// mountTmpfs mounts a tmpfs of size bytes at dir until the test ends, or
// skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("full-disk test skipped: cannot mount a small tmpfs here (%v); it needs CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
}

// fill writes a file in dir until the disk is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return p
			}
			t.Fatal(err)
		}
	}
}

// TestDiskFullAnswers503 runs the server on a small file system of its
// own (SQLite databases and disk blobs), fills it, and frees it again.
func TestDiskFullAnswers503(t *testing.T) {
	data := t.TempDir()
	mountTmpfs(t, data, 48<<20)
	env := servertest.StartWith(t, server.Config{Data: data})
	ctx := context.Background()

	phone := signedUp(t, env, canaryIMEI, candor.Notes)
	if _, err := phone.Notes().Add("before the disk filled", "kept"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, phone)
	r, _ := signup(t, env, "IN")
	epoch := r.consent("notes", true)
	r.consent("photos", true)

	filler := fill(t, data)
	if _, err := phone.Notes().Add("while the disk was full", "kept on the phone"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	phone.Sync(short, nil) // may succeed in what the database had room for
	cancel()
	byStatus := attack(t, r, epoch, 3)
	t.Logf("answers with the disk full, by status: %v", byStatus)
	// A photo part: the blob store itself hits ENOSPC.
	var up api.Upload
	if a := ask(r, "POST", "/v1/photos/uploads", api.UploadCreate{Size: 1 << 20, Hash: randomBytes(32)}); a.status/100 == 2 {
		json.Unmarshal(a.body, &up)
		req, _ := http.NewRequest("PUT", r.url+"/v1/photos/uploads/"+up.ID+"/parts/0", bytes.NewReader(randomBytes(1<<20)))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		part := reply{answer{resp.StatusCode, b}, resp.Header.Get("Retry-After")}
		checkReply(t, "photo part", part)
		if part.status != 503 || !strings.Contains(part.error().Message, "disk is full") {
			t.Errorf("a photo part on a full disk: %d %s", part.status, part.body)
		}
	} else {
		checkReply(t, "photo upload", a)
	}
	if status, msg := readyz(r); status != 503 || !strings.Contains(msg, "disk is full") {
		t.Errorf("/readyz with the disk full: %d %q, want 503 saying the disk is full", status, msg)
	}
	noServerErrors(t, env)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReady(t, r)
	nothingLost(t, env, phone, "before the disk filled", "while the disk was full")
	// No part upload left a temporary file behind.
	tmps, _ := filepath.Glob(filepath.Join(data, "regions", "*", "blobs", ".#tmp", "*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
}
