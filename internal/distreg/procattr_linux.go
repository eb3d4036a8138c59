package distreg

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the registry when the process that
// started it dies, so a test or bench killed mid-run leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
