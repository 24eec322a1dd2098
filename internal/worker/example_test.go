package worker_test

import (
	"fmt"
	"time"

	"github.com/loadgen/loadgen/internal/worker"
)

// The k6-style ramp: 0 to 10 calls/s over 10 s, then 10 calls/s for 10 s.
// Each start time is solved from the integral of the rate, so call 50 starts
// exactly when the ramp ends.
func ExampleStages() {
	p, err := worker.NewStages(0, []worker.Stage{
		{Duration: 10 * time.Second, Target: 10},
		{Duration: 10 * time.Second, Target: 10},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range []uint64{0, 2, 50, 149, 150} {
		at, ok := p.Due(n)
		fmt.Println(n, at, ok)
	}
	// Output:
	// 0 0s true
	// 2 2s true
	// 50 10s true
	// 149 19.9s true
	// 150 0s false
}

// Pace tells the scheduler how long to wait for the next start.
func ExampleConstant() {
	p := worker.Constant{PerSecond: 4}
	wait, stop := p.Pace(300*time.Millisecond, 2) // call 2 is due at 500ms
	fmt.Println(wait, stop)
	// Output: 200ms false
}
