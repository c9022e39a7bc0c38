//go:build !linux

package reliability

import "os/exec"

// setProcAttr: outside Linux there is no parent-death signal; the test's
// cleanup stops the server.
func setProcAttr(*exec.Cmd) {}
