//go:build !linux

package redistest

import "os/exec"

// setProcAttr has nothing to add where there is no parent-death signal; the
// t.Cleanup kill still stops every server.
func setProcAttr(*exec.Cmd) {}
