//go:build !linux

package bench

import (
	"errors"
	"os/exec"
)

func setProcAttr(*exec.Cmd) {}

func pinSelf(int) error { return errors.New("CPU pinning needs Linux") }

func allowedCPUs() ([]int, error) { return nil, errors.New("CPU pinning needs Linux") }
