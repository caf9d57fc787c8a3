package packaging

import (
	"bytes"
	"debug/elf"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/candorcloud/candor/test/internal/testenv"
)

// TestDockerfileGoVersion fails when the image would build with another Go
// than go.mod's (its toolchain line when there is one).
func TestDockerfileGoVersion(t *testing.T) {
	mod := testenv.ReadRepo(t, "go.mod")
	want := ""
	if m := regexp.MustCompile(`(?m)^toolchain go(\S+)`).FindStringSubmatch(mod); m != nil {
		want = m[1]
	} else if m := regexp.MustCompile(`(?m)^go (\S+)`).FindStringSubmatch(mod); m != nil {
		want = m[1]
	} else {
		t.Fatal("go.mod names no Go version")
	}
	df := testenv.ReadRepo(t, "Dockerfile")
	m := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("the Dockerfile has no ARG GO_VERSION=...")
	}
	if m[1] != want {
		t.Fatalf("the Dockerfile builds with Go %s, go.mod asks for %s", m[1], want)
	}
	if !strings.Contains(df, "FROM golang:${GO_VERSION}-") {
		t.Fatal("the Dockerfile's build stage does not use golang:${GO_VERSION}")
	}
}

// TestDockerfileBuild checks that the image builds the binary with the
// Makefile's own build command, cgo off and the commit stamped, and runs
// it as a user without privileges on a base without a shell.
func TestDockerfileBuild(t *testing.T) {
	df := testenv.ReadRepo(t, "Dockerfile")
	mk := testenv.ReadRepo(t, "Makefile")
	if !strings.Contains(mk, `-ldflags "-X main.commit=$(COMMIT)"`) || !strings.Contains(mk, "-o bin/candor ./cmd/candor") {
		t.Fatal("the Makefile's build target no longer stamps the commit into bin/candor; update the Dockerfile with it")
	}
	for _, want := range []string{
		"ARG COMMIT",
		"ENV CGO_ENABLED=0",
		`RUN make build COMMIT="${COMMIT}"`,
		"COPY --from=build /src/bin/candor /candor",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER 65532:65532",
		"EXPOSE 8080",
		`VOLUME ["/var/lib/candor"]`,
		`CMD ["/candor", "operator", "--server", "http://127.0.0.1:8080", "status"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	if regexp.MustCompile(`(?m)^USER (root|0)\b`).MatchString(df) {
		t.Error("the Dockerfile runs as root")
	}
	ignore := testenv.ReadRepo(t, ".dockerignore")
	for _, want := range []string{".git", "bin", "data"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(ignore) {
			t.Errorf(".dockerignore does not keep %s out of the build context", want)
		}
	}
}

// TestStaticBinary builds ./cmd/candor as the image does (CGO_ENABLED=0)
// and checks that the result needs no C library (no interpreter, no shared
// library: it runs on distroless/static) and prints its stamped commit.
func TestStaticBinary(t *testing.T) {
	bin := candorBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Skipf("not an ELF binary on this system: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: it would not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("candor version: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("commit "+testCommit)) {
		t.Fatalf("candor version printed %q, want the stamped commit %s", out, testCommit)
	}
}

// TestHealthcheckCommand runs the image's HEALTHCHECK command against real
// servers: it must pass for a running server, sealed or not (a sealed
// server is alive, waiting for its custodians; restarting it would not
// help), and fail when nothing answers.
func TestHealthcheckCommand(t *testing.T) {
	bin := candorBinary(t)
	probe := func(url string) error {
		cmd := exec.Command(bin, "operator", "--server", url, "status")
		cmd.Env = []string{}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("probe %s: %s", url, bytes.TrimSpace(out))
		}
		return err
	}
	dev := startCandor(t, "--dev")
	if err := probe(dev.URL); err != nil {
		t.Errorf("the health check fails on a running server: %v", err)
	}
	sealed := startCandor(t)
	if err := probe(sealed.URL); err != nil {
		t.Errorf("the health check fails on a sealed server: %v", err)
	}
	addr := sealed.URL
	sealed.Stop()
	if err := probe(addr); err == nil {
		t.Error("the health check passes with no server answering")
	}
}
