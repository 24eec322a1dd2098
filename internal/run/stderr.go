package run

import (
	"fmt"
	"io"
	"sync"
)

// stickyWriter writes the run's progress and messages. It keeps the first
// write error and writes nothing after it: a closed terminal must not stop
// a load test, so Run reports the error in Result.StderrErr at the end
// instead. It is safe for concurrent use (the progress loop, the interrupt
// and threshold watchers and the run itself write).
type stickyWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// printf formats a message, unless an earlier write failed.
func (s *stickyWriter) printf(format string, a ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if _, err := fmt.Fprintf(s.w, format, a...); err != nil {
		s.err = fmt.Errorf("run: write to stderr: %w", err)
	}
}

// Err is the first write error, nil when every write succeeded.
func (s *stickyWriter) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
