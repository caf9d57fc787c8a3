package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildCandor builds the candor command with the given build tags into a
// temporary folder and returns the binary's path.
func buildCandor(t *testing.T, tags string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the candor binary; skipped with -short")
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	bin := filepath.Join(t.TempDir(), "candor")
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(goCmd, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", tags, err, out)
	}
	return bin
}

type egressJSON struct {
	Passed bool `json:"passed"`
	Phases []struct {
		Phase    string `json:"phase"`
		Status   string `json:"status"`
		Requests int    `json:"requests"`
	} `json:"phases"`
	Violations []violationJSON `json:"violations"`
}

type violationJSON struct {
	Phase, Item, Form, Where, Message string
}

// runEgress runs `candor verify-egress --json` with extra environment and
// returns its exit code, decoded report and standard error.
func runEgress(t *testing.T, bin string, env ...string) (int, egressJSON, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "verify-egress", "--json", "--report", filepath.Join(t.TempDir(), "report.md"))
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep egressJSON
	if out.Len() > 0 {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("verify-egress printed no JSON: %v\n%s", err, out.String())
		}
	}
	return code, rep, errOut.String()
}

// The real client passes the egress proof end to end: a separate candor
// binary runs verify-egress, whose phones are separate processes of it.
func TestVerifyEgressPassesOnTheRealClient(t *testing.T) {
	bin := buildCandor(t, "")
	start := time.Now()
	// The variable that makes test builds leak does nothing in a real one.
	code, rep, stderr := runEgress(t, bin, "CANDOR_EGRESS_LEAK=header")
	t.Logf("verify-egress ran in %s", time.Since(start).Round(time.Millisecond))
	if code != 0 || !rep.Passed {
		t.Fatalf("verify-egress: exit %d, passed %v\n%s", code, rep.Passed, stderr)
	}
	// Every phase runs, public content (greetings, update check) included.
	if len(rep.Phases) < 10 {
		t.Errorf("only %d phases: %+v", len(rep.Phases), rep.Phases)
	}
	for _, p := range rep.Phases {
		if p.Status != "passed" {
			t.Errorf("phase %q: %s", p.Phase, p.Status)
		}
		if p.Phase == "public content" && p.Requests == 0 {
			t.Errorf("public content made no request")
		}
	}
}

// beforeConsent are the phases in which a phone has given no consent yet.
var beforeConsent = map[string]bool{"public content": true, "signup, all consents off": true}

// verify-egress can fail: each way a test build of the phone leaks is
// caught, naming a phase before consent, the item, its form and where in
// the request it was.
func TestVerifyEgressCatchesLeaks(t *testing.T) {
	bin := buildCandor(t, "egressleak")
	for _, tc := range []struct {
		leak, item, form, where string
	}{
		{"header", "IMEI", "plain", "header X-Device-Serial"},
		{"query", "phone number", "url-encoded", "query"},
		{"sha256-imei", "IMEI", "sha256 hex", "header X-Install-Id"},
		{"base64-body", "IMEI", "base64", "body"},
		{"early-contact", "contact phone", "plain", "body"},
		{"other-host", "a request to another host", "telemetry.example.invalid", "destination"},
		{"trailer", "IMEI", "plain", "trailer X-Body-Checksum"},
		{"split-imei", "IMEI", "cut into 2 pieces", "pieces across requests"},
		{"websocket", "phone number", "plain", "WebSocket message"},
	} {
		t.Run(tc.leak, func(t *testing.T) {
			t.Parallel()
			code, rep, stderr := runEgress(t, bin, "CANDOR_EGRESS_LEAK="+tc.leak)
			if code == 0 || rep.Passed {
				t.Fatalf("verify-egress passed a phone that leaks (%s)", tc.leak)
			}
			var got *violationJSON
			for i, v := range rep.Violations {
				if v.Item == tc.item && strings.HasPrefix(v.Form, tc.form) && v.Where == tc.where {
					got = &rep.Violations[i]
					break
				}
			}
			if got == nil || !beforeConsent[got.Phase] {
				t.Fatalf("no violation %s (%s) in %s before consent: %+v", tc.item, tc.form, tc.where, rep.Violations)
			}
			want := `phase "` + got.Phase + `": ` + tc.item + " (" + got.Form + ") in " + tc.where
			if !strings.Contains(stderr, want) {
				t.Errorf("the error does not name the phase and item (%q):\n%s", want, stderr)
			}
		})
	}
}
