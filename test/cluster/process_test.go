package cluster

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/candorcloud/candor/test/internal/testenv"
)

// enabled skips t unless CANDOR_TEST_CLUSTER=1.
func enabled(t *testing.T) {
	t.Helper()
	if os.Getenv("CANDOR_TEST_CLUSTER") != "1" {
		t.Skip("the cluster test runs only with CANDOR_TEST_CLUSTER=1 (docs/deployment.md, \"A test environment of the multi-region deployment\")")
	}
}

// missing skips t for a service or tool that is not there, or fails it
// under CI=true, where everything the test needs must be present.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true and CANDOR_TEST_CLUSTER=1: everything must be there)", msg)
	}
	t.Skip(msg)
}

// needEnv returns the environment variable name, or skips (fails under
// CI) when it is unset.
func needEnv(t *testing.T, name, example string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		missing(t, "cluster test skipped: set %s, e.g. %s", name, example)
	}
	return v
}

// needTool finds a program on PATH or at one of places.
func needTool(t *testing.T, name string, places ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range places {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "cluster test skipped: %s is not installed (scripts/ci installs it)", name)
	return ""
}

// buildCandor builds ./cmd/candor into a temporary folder, with the
// testcosts tag (see the package documentation).
func buildCandor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "candor")
	cmd := exec.Command("go", "build", "-tags", "testcosts", "-o", bin, "./cmd/candor")
	cmd.Dir = testenv.RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/candor: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func freePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(freeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// listening reports whether something accepts connections at addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func waitListening(t testing.TB, addr string, p *process) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !listening(addr); time.Sleep(50 * time.Millisecond) {
		if p != nil && p.exited() {
			t.Fatalf("%s exited before listening on %s:\n%s", p.name, addr, p.out.tail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 30s", addr)
		}
	}
}

// output keeps the last bytes a process wrote, for the test to read and to
// show when it fails; a long run's output does not grow without bound. A
// line watcher, when set, sees every complete line.
type output struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	line  []byte
	watch func(line string)
	keep  int
	whole bool
	shown bool
}

// show reports whether the output is still to be shown: once only, for
// the several processes a restarted instance writes it with.
func (o *output) show() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { o.shown = true }()
	return !o.shown
}

// newOutput keeps the last keep bytes, or everything when keep is 0.
func newOutput(keep int) *output { return &output{keep: keep, whole: keep == 0} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.whole && o.buf.Len() > 2*o.keep {
		b := append([]byte(nil), o.buf.Bytes()[o.buf.Len()-o.keep:]...)
		o.buf.Reset()
		o.buf.Write(b)
	}
	if o.watch != nil {
		o.line = append(o.line, p...)
		for {
			i := bytes.IndexByte(o.line, '\n')
			if i < 0 {
				break
			}
			o.watch(string(o.line[:i]))
			o.line = o.line[i+1:]
		}
	}
	return len(p), nil
}

// String is what is kept.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// tail is the last 16 KB kept.
func (o *output) tail() string {
	s := o.String()
	if len(s) > 16<<10 {
		s = "…" + s[len(s)-16<<10:]
	}
	return s
}

// process is one OS process the test started: stopped by its PID when the
// test ends (even when it fails), its output shown then if the test
// failed.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *output
	done chan struct{}
}

// start starts argv as name, with its stdout and stderr into out.
func start(t *testing.T, name string, out *output, argv ...string) *process {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(5 * time.Second)
		if t.Failed() && out.show() {
			t.Logf("the output of %s (pid %d and any before it):\n%s", name, cmd.Process.Pid, out.tail())
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace, and waits for the exit.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}
