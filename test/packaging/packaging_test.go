package packaging

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/candorcloud/candor/test/internal/testenv"
)

// testCommit is the commit the test binary is stamped with.
const testCommit = "0123456789abcdef0123456789abcdef01234567"

// needTool returns the path of a program, skipping the test when it is
// missing, or failing it under CI=true, where every tool must be present.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing and CI=true: install it (scripts/ci)", name)
		}
		t.Skipf("%s is missing (scripts/ci installs it)", name)
	}
	return p
}

var (
	buildOnce sync.Once
	binPath   string
	binDir    string
	buildErr  error
)

// candorBinary builds ./cmd/candor once for the package as the Dockerfile
// does: cgo off, -trimpath, the commit stamped with -ldflags.
func candorBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "candor-packaging-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "candor")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.commit="+testCommit, "-o", binPath, "./cmd/candor")
		cmd.Dir = testenv.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build ./cmd/candor: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// instance is one candor serve process started by a test.
type instance struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startCandor runs `candor serve` with the given extra arguments on a free
// loopback port with a fresh data folder, and waits for its "listening on"
// line. The process is stopped when the test ends.
func startCandor(t testing.TB, args ...string) *instance {
	t.Helper()
	bin := candorBinary(t)
	args = append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on http://"); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(in.done) }()
	t.Cleanup(in.Stop)
	select {
	case a := <-addr:
		in.Addr, in.URL = a, "http://"+a
	case <-in.done:
		t.Fatalf("candor %s exited before listening", strings.Join(args, " "))
	case <-time.After(60 * time.Second):
		t.Fatalf("candor %s did not listen within 60s", strings.Join(args, " "))
	}
	return in
}

// Stop ends the process (SIGTERM, then SIGKILL after 10s) and waits for it.
func (in *instance) Stop() {
	select {
	case <-in.done:
		return
	default:
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(10 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
}
