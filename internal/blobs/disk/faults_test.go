package disk

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candorcloud/candor"
)

// A write that meets a full disk (ENOSPC: /dev/full) is Unavailable with
// a sentence saying so, not an internal error.
func TestFullDiskIsUnavailable(t *testing.T) {
	s := open(t, t.TempDir())
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full here: %v", err)
	}
	err = s.write(t.Context(), f, bytes.NewReader(make([]byte, 4096)), 4096)
	f.Close()
	var ce *candor.Error
	if !candor.Is(err, candor.Unavailable) || !strings.Contains(candor.Message(err), "disk is full") {
		t.Fatalf("writing to a full disk: %v (kind %s)", err, candor.KindOf(err))
	}
	if ok := asError(err, &ce); !ok || ce.RetryAfter <= 0 {
		t.Errorf("no Retry-After: %#v", err)
	}
}

func asError(err error, ce **candor.Error) bool {
	e, ok := err.(*candor.Error)
	*ce = e
	return ok
}

// helperEnv makes the test binary a Put that never finishes: it writes
// half a blob into the store named by the variable and waits to be killed.
const helperEnv = "CANDOR_DISK_TEST_STUCK_PUT"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		s, err := New(dir)
		if err != nil {
			os.Exit(2)
		}
		pr, pw := io.Pipe()
		go func() {
			pw.Write(make([]byte, 1<<16))
			select {} // the rest never comes
		}()
		s.Put(t0(), "acc_1/photos/up_1/part-000000", pr, 1<<20)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// A Put whose process is killed mid-write leaves a temporary file; the
// next New removes it, and spares the one a live Put is writing.
func TestKilledPutLeavesNothingAfterRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, tempDir, tempPrefix+"*"))
		return m
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := temps(); len(m) == 1 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the stuck Put wrote no temporary file in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Killed mid-write, as a crash or an out-of-memory kill would.
	cmd.Process.Kill()
	cmd.Wait()
	if len(temps()) != 1 {
		t.Fatalf("the killed Put's temporary file: %v", temps())
	}

	// The restart removes it.
	s := open(t, dir)
	if m := temps(); len(m) != 0 {
		t.Fatalf("after the restart, temporary files %v are left", m)
	}

	// A Put in progress in this process holds its lock: New spares it.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- s.Put(t.Context(), "acc_2/x", pr, 8) }()
	pw.Write([]byte("half"))
	for len(temps()) != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	again := open(t, dir)
	if m := temps(); len(m) != 1 {
		t.Fatalf("a live Put's temporary file is gone after another New: %v", m)
	}
	pw.Write([]byte("done"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("the live Put: %v", err)
	}
	if r, _, err := again.Get(t.Context(), "acc_2/x"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "halfdone" {
			t.Errorf("the live Put stored %q", b)
		}
	}
	if m := temps(); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func t0() context.Context { return context.Background() }
