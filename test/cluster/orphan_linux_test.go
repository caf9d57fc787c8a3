package cluster

import (
	"os/exec"
	"syscall"
)

// dieWithTest has Linux kill cmd should the test process die without
// running its cleanups (killed, or its output's reader gone), so that no
// server outlives the test.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
