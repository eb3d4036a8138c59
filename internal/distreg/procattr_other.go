//go:build !linux

package distreg

import "os/exec"

// dieWithParent does nothing here: only Linux has a parent-death signal.
// Stop (and the context) still end the registry; a parent killed outright
// leaves it running.
func dieWithParent(cmd *exec.Cmd) {}
