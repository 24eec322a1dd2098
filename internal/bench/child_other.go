//go:build !linux

package bench

import "os/exec"

// setParentDeathSignal has no equivalent here; stop is the only path.
func setParentDeathSignal(*exec.Cmd) {}
