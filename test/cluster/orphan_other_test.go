//go:build !linux

package cluster

import "os/exec"

// dieWithTest does nothing here: only Linux kills a child when its parent
// dies; the test's cleanups stop every process it started.
func dieWithTest(*exec.Cmd) {}
