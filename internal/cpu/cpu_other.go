//go:build !unix

package cpu

import (
	"errors"
	"time"
)

// processCPUTime is not implemented off Unix.
func processCPUTime() (time.Duration, error) {
	return 0, errors.New("process CPU time is not available on this platform")
}
