package media

import (
	"github.com/loadgen/loadgen/internal/metrics"
	"strings"
	"testing"
	"time"
)

// hasMono reports whether t carries a monotonic clock reading (its String
// form then ends in "m=±<seconds>").
func hasMono(t time.Time) bool { return strings.Contains(t.String(), " m=") }

// TestInstantsMonotonic checks that recorded instants come back as the
// very instants marked, with a monotonic reading, so durations between
// them (and from any time.Now reading) are monotonic arithmetic.
func TestInstantsMonotonic(t *testing.T) {
	base := time.Now()
	if !hasMono(base) {
		t.Skip("time.Now carries no monotonic reading on this platform")
	}
	tests := []struct {
		name   string
		offset time.Duration // of the marked instant from the set's base
	}{
		{"at the base", 0},
		{"one nanosecond later", time.Nanosecond},
		{"1.5 s later", 1500 * time.Millisecond},
		{"an hour later", time.Hour},
		{"before the base (clock injected)", -3 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := base
			in := newInstants(func() time.Time { return clock })
			if got := in.get(evICEConnected); !got.IsZero() {
				t.Fatalf("unmarked instant = %v, want zero", got)
			}
			clock = base.Add(tc.offset)
			if !in.mark(evICEConnected) {
				t.Fatal("first mark not recorded")
			}
			clock = clock.Add(time.Second)
			if in.mark(evICEConnected) {
				t.Fatal("second mark recorded")
			}
			got := in.get(evICEConnected)
			if !hasMono(got) {
				t.Errorf("instant %v has no monotonic reading", got)
			}
			if d := got.Sub(base); d != tc.offset {
				t.Errorf("instant - base = %v, want %v", d, tc.offset)
			}
			if !got.Equal(base.Add(tc.offset)) {
				t.Errorf("instant %v, want %v", got, base.Add(tc.offset))
			}
		})
	}
}

// TestLateCounterMonotonic checks that the late-write instants keep their
// monotonic reading too.
func TestLateCounterMonotonic(t *testing.T) {
	c := newLateCounter()
	due := time.Now().Add(40 * time.Millisecond)
	c.mark(2, due)
	c.mark(1, due.Add(20*time.Millisecond))
	var ms metrics.MediaStats
	c.addTo(&ms)
	if !hasMono(ms.FirstLateWrite) || !hasMono(ms.LastLateWrite) {
		t.Errorf("late-write instants without monotonic reading: %v %v", ms.FirstLateWrite, ms.LastLateWrite)
	}
	if d := ms.FirstLateWrite.Sub(due); d != 0 {
		t.Errorf("first late write off by %v", d)
	}
	if d := ms.LastLateWrite.Sub(due); d != 20*time.Millisecond {
		t.Errorf("last late write - first due = %v, want 20ms", d)
	}
	if ms.LateWrites != 3 {
		t.Errorf("late writes %d, want 3", ms.LateWrites)
	}
}
