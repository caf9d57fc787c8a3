package egress

import (
	"strings"
	"testing"
)

// A run in which a phase did not run proves nothing, even with no finding:
// it fails, and says which phase.
func TestSkippedPhaseFailsTheRun(t *testing.T) {
	rep := &Report{Phases: []PhaseReport{
		{Name: "first boot", Status: "passed"},
		{Name: "public content", Status: "skipped: command not available (greetings)"},
	}}
	rep.finish()
	if rep.Passed {
		t.Fatal("a run with a skipped phase passed")
	}
	if v := rep.Verdict(); !strings.Contains(v, "public content") || !strings.Contains(v, "not every phase ran") {
		t.Fatalf("verdict %q does not name the phase that did not run", v)
	}
	rep = &Report{Phases: []PhaseReport{{Name: "first boot", Status: "passed"}}}
	rep.finish()
	if !rep.Passed || rep.Verdict() != "" {
		t.Fatalf("a clean run: passed %v, verdict %q", rep.Passed, rep.Verdict())
	}
}
