package metrics

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {850 * time.Microsecond, "850µs"}, {1500 * time.Nanosecond, "1.5µs"}, {12345 * time.Microsecond, "12.3ms"},
		{100 * time.Millisecond, "100ms"}, {1234 * time.Millisecond, "1.23s"}, {59500 * time.Millisecond, "59.5s"},
		{123 * time.Second, "2m3s"}, {-2 * time.Millisecond, "-2ms"},
	}
	for _, tc := range tests {
		if got := FormatDuration(tc.d); got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestStatusLabel(t *testing.T) {
	for _, tc := range []struct {
		in   int
		want string
	}{{0, "none"}, {486, "486"}, {100, "100"}, {699, "699"}, {99, "other"}, {700, "other"}, {46, "other"}, {-3, "other"}} {
		if got := StatusLabel(tc.in); got != tc.want {
			t.Errorf("StatusLabel(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
