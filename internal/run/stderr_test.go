package run

import (
	"errors"
	"strings"
	"testing"
)

// failAfter accepts n writes, then fails every one.
type failAfter struct {
	n   int
	got strings.Builder
}

var errClosed = errors.New("closed")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errClosed
	}
	f.n--
	return f.got.Write(p)
}

func TestStickyWriter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		accept  int
		want    string
		wantErr bool
	}{
		{name: "all written", accept: 3, want: "a\nb\nc\n"},
		{name: "first error kept, later writes skipped", accept: 1, want: "a\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &failAfter{n: tc.accept}
			s := &stickyWriter{w: w}
			for _, m := range []string{"a", "b", "c"} {
				s.printf("%s\n", m)
			}
			if got := w.got.String(); got != tc.want {
				t.Errorf("written %q, want %q", got, tc.want)
			}
			if err := s.Err(); (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errClosed)) {
				t.Errorf("Err() = %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr && w.n != 0 {
				t.Errorf("writes after the error reached the writer")
			}
		})
	}
}
