package results

import (
	"bufio"
	"bytes"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestEncodingCache: the cache gives the encoding Encode gives, keeps it
// while the histogram is unchanged and encodes anew once it changes.
func TestEncodingCache(t *testing.T) {
	h := hdrhistogram.New(1, 3_600_000_000, 3)
	c := NewEncodingCache()
	want := func() string {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	steps := []struct {
		name   string
		record []int64
	}{
		{"empty", nil},
		{"unchanged", nil},
		{"one value", []int64{1500}},
		{"unchanged again", nil},
		{"more values", []int64{20, 999_999}},
	}
	for _, st := range steps {
		for _, v := range st.record {
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		got, err := c.encode("connect", h)
		if err != nil {
			t.Fatal(err)
		}
		if got != want() {
			t.Errorf("%s: cached encoding differs from Encode's", st.name)
		}
	}
	var nilCache *EncodingCache
	if got, _ := nilCache.encode("x", h); got != want() {
		t.Error("a nil cache must encode")
	}
}

// TestIntervalLineLikeHdrHistogram: the interval lines the writer makes
// itself (to reuse empty encodings) are HdrHistogram's log writer's, byte
// for byte, for empty and non-empty intervals, twice (the cached empty).
func TestIntervalLineLikeHdrHistogram(t *testing.T) {
	for _, values := range [][]int64{nil, {250, 4000, 4000, 70_000}, nil} {
		h := hdrhistogram.New(1, 3_600_000_000, 3)
		for _, v := range values {
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		h.SetStartTimeMs(1_764_000_005_000)
		h.SetEndTimeMs(1_764_000_010_000)
		var want bytes.Buffer
		lw := hdrhistogram.NewHistogramLogWriter(&want)
		lw.SetBaseTime(1_764_000_000_123)
		if err := lw.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		hf := &hlogFile{bw: bufioWriter(&got), lw: hdrhistogram.NewHistogramLogWriter(&got)}
		hf.lw.SetBaseTime(1_764_000_000_123)
		for range 2 {
			got.Reset()
			if err := hf.writeInterval(h); err != nil {
				t.Fatal(err)
			}
			if err := hf.bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("values %v: line\n%q\nwant\n%q", values, got.String(), want.String())
			}
		}
	}
}

func bufioWriter(b *bytes.Buffer) *bufio.Writer { return bufio.NewWriter(b) }
