package bench

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the child if the benchmark dies
// without stopping it (a safety net: stop is the normal path).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
