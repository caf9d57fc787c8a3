package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeSection is one section of the README: its heading and the shell
// blocks the test runs, in order.
type readmeSection struct {
	heading string
	script  string
}

// readmeExpect is what the text of each section promises its commands
// print; the section's output must contain each.
var readmeExpect = map[string][]string{
	"## Quickstart": {"passed: no personal data left the phones before consent", "candor: listening on http://127.0.0.1:", "Not for production"},
	"### Two phones, one account": {"contacts is off for this account: nothing was sent or stored; turn it on with 'consent contacts on'",
		"exit code 3", "contacts: 0 received, 1 sent", "Ravi Kumar", `"region": "in"`},
	"### Photos and SMS, restored onto a new phone": {"IMG_0001.jpg", "IMG_0002.jpg", "byte-identical"},
	"### Messaging: end-to-end encrypted, opt-in only": {"messaging is off for this account", "exit code 3",
		"Ravi Kumar", "delivered to 1 devices' queue, end-to-end encrypted", "Dinner at eight?", "sent as an SMS"},
	"### Production: sealed, K custodians": {"not initialised: no root key exists yet", "alice.pub.share.age",
		"sealed: 0 of 2 shares offered", "unsealed: root key version 1"},
	"### Staff: several approvals, every access logged": {"Ravi Kumar", "ticket-4711", "ok:"},
	"### Greetings and update notices, before any account": {"pinned the server's update root (version 1) on first use",
		"no update for candor-reference on stable"},
	"### Your contacts in Thunderbird, DAVx5 or vdirsyncer; everything out as files": {"+919876543210",
		`app password "Thunderbird" made`, "CardDAV URL: http://127.0.0.1:", "password:    cap_", "contacts.vcf", "manifest.json"},
	"### Regions: moving accounts, retention": {`"region": "sg"`},
}

// TestReadme runs the README's shell blocks exactly as printed, section by
// section in order, in one fresh folder with a freshly built candor on
// PATH, as a reader would: each section in a shell of its own (so none
// relies on another's variables), on free ports in place of the ports the
// README names (it says a reader may choose others). Blocks marked
// "README test: not run" (building candor, running the test suite) are
// left out. Servers the blocks start are stopped when the test ends.
func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("the README test starts several servers: skipped with -short")
	}
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s on PATH", tool)
		}
	}
	sections := readmeSections(t, "../../README.md")
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	work := filepath.Join(tmp, "work")
	os.MkdirAll(work, 0o700)
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(bin, "candor"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build candor: %v\n%s", err, out)
	}
	installAge(t, bin)

	ports := map[string]string{}
	port := regexp.MustCompile(`127\.0\.0\.1:80\d\d\b`)
	for i := range sections {
		sections[i].script = port.ReplaceAllStringFunc(sections[i].script, func(addr string) string {
			if ports[addr] == "" {
				ports[addr] = freeAddr(t)
			}
			return ports[addr]
		})
	}

	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + tmp, "LANG=C.UTF-8"}
	for _, s := range sections {
		out, err := runSection(t, work, env, s)
		if err != nil {
			t.Fatalf("%s: %v\n--- script\n%s\n--- output\n%s", s.heading, err, s.script, out)
		}
		for _, want := range readmeExpect[s.heading] {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the output does not show %q\n--- output\n%s", s.heading, want, out)
			}
		}
		delete(readmeExpect, s.heading)
	}
	for h := range readmeExpect {
		t.Errorf("no commands ran for %q", h)
	}
}

// readmeSections returns the sections of the README (## and ### headings)
// that have shell blocks to run.
func readmeSections(t *testing.T, path string) []readmeSection {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out           []readmeSection
		cur           readmeSection
		in, skip      bool
		last, heading string
	)
	flush := func() {
		if cur.script != "" {
			out = append(out, cur)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && line == "```sh":
			in, skip = true, strings.HasPrefix(last, "<!-- README test: not run")
		case in && line == "```":
			in = false
		case in && !skip:
			cur.script += line + "\n"
		case in:
		case strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### "):
			flush()
			heading = line
			cur = readmeSection{heading: heading}
		}
		if !in && strings.TrimSpace(line) != "" {
			last = line
		}
	}
	flush()
	if len(out) == 0 {
		t.Fatal("no shell blocks in the README")
	}
	return out
}

// runSection runs one section's script with bash -e -o pipefail in its own
// process group; what it leaves running (its servers) is stopped when the
// test ends.
func runSection(t *testing.T, dir string, env []string, s readmeSection) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", s.script)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGTERM) })
	err := cmd.Wait()
	return out.String(), err
}

// installAge puts age and age-keygen in bin unless they are on PATH: the
// version this module depends on, installed with go install.
func installAge(t *testing.T, bin string) {
	if _, err := exec.LookPath("age"); err == nil {
		if _, err := exec.LookPath("age-keygen"); err == nil {
			return
		}
	}
	version := "latest"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "filippo.io/age" {
				version = d.Version
			}
		}
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "install", "filippo.io/age/cmd/age@"+version, "filippo.io/age/cmd/age-keygen@"+version)
	cmd.Dir = bin
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's production section needs age: go install: %v\n%s", err, out)
	}
}

// freeAddr returns a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr())
}
