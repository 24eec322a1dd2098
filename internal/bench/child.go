package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one running loadgen process. Whoever starts one must stop it
// (stop returns only once the process has been reaped), so no process
// outlives the benchmark.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // set before done is closed
}

// startChild starts argv in dir with the given output writers.
func startChild(argv []string, dir string, stdout, stderr io.Writer) (*child, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Output copying must not keep Wait forever if a grandchild held the
	// pipes (there is none; this bounds it anyway).
	cmd.WaitDelay = 5 * time.Second
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", strings.Join(argv, " "), err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid is the process id (taskset execs the command, so it is the
// command's too).
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitCode is the exit status once the process ended (-1 when it was
// killed by a signal).
func (c *child) exitCode() int {
	<-c.done
	return c.cmd.ProcessState.ExitCode()
}

// stop asks the process to end with sig, waits up to grace, then kills it;
// it returns once the process has been reaped.
func (c *child) stop(sig os.Signal, grace time.Duration) {
	if c.exited() {
		return
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = c.cmd.Process.Kill() // the process is gone or cannot be signalled: Kill is best effort
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill() // ErrProcessDone if it just ended
		<-c.done
	}
}

// waitExit waits for the process to end on its own within timeout. When ctx
// ends or the timeout expires first it stops the process (SIGINT: a
// generator ends its calls properly and writes its results, within grace)
// and says which.
func (c *child) waitExit(ctx context.Context, timeout, grace time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.stop(syscall.SIGINT, grace)
		return fmt.Errorf("bench: interrupted: %w", ctx.Err())
	case <-t.C:
		c.stop(syscall.SIGINT, grace)
		return fmt.Errorf("bench: the generator did not finish within %s", timeout)
	}
}

// lineWriter is an io.Writer that hands every complete line to onLine and
// keeps the last few lines for error messages.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	tail    []string
	keep    int
	onLine  func(string)
}

func newLineWriter(keep int, onLine func(string)) *lineWriter {
	return &lineWriter{keep: keep, onLine: onLine}
}

// Write splits p into lines.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		if w.onLine != nil {
			w.onLine(line)
		}
		if w.keep > 0 {
			w.tail = append(w.tail, line)
			if len(w.tail) > w.keep {
				w.tail = w.tail[len(w.tail)-w.keep:]
			}
		}
	}
	return len(p), nil
}

// Tail returns the last lines written, joined with " | ".
func (w *lineWriter) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.tail
	if len(w.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(w.partial))
	}
	return strings.Join(lines, " | ")
}
