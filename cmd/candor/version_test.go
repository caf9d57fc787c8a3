package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestVersion checks that `candor version` and `candor --version` print the
// same line, naming the module version and the commit set at build time.
func TestVersion(t *testing.T) {
	old := commit
	commit = "0123456789abcdef0123456789abcdef01234567"
	defer func() { commit = old }()
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), args, strings.NewReader(""), &out, &errOut); code != exitOK {
			t.Fatalf("candor %s: exit %d: %s", args[0], code, errOut.String())
		}
		outs = append(outs, out.String())
	}
	if outs[0] != outs[1] {
		t.Fatalf("candor version printed %q, candor --version %q", outs[0], outs[1])
	}
	if !strings.HasPrefix(outs[0], "candor ") || !strings.Contains(outs[0], "commit "+commit) {
		t.Fatalf("candor version printed %q: want the module version and commit %s", outs[0], commit)
	}
}
