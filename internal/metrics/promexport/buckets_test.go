package promexport

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

// promQuantile is Prometheus' histogram_quantile over classic buckets
// (promql bucketQuantile): find the bucket holding rank q·count and
// interpolate linearly inside it; the first bucket starts at 0, and a rank
// in +Inf returns the highest finite bound.
func promQuantile(q float64, bounds []float64, cum map[float64]uint64, count uint64) float64 {
	bs := slices.Sorted(func(yield func(float64) bool) {
		for _, b := range bounds {
			if !yield(b) {
				return
			}
		}
	})
	rank := q * float64(count)
	b := len(bs)
	for i, ub := range bs {
		if float64(cum[ub]) >= rank {
			b = i
			break
		}
	}
	if b == len(bs) {
		return bs[len(bs)-1]
	}
	start, end, inBucket := 0.0, bs[b], float64(cum[bs[b]])
	if b > 0 {
		start = bs[b-1]
		inBucket -= float64(cum[start])
		rank -= float64(cum[start])
	}
	return start + (end-start)*(rank/inBucket)
}

// TestDefaultBucketsQuantileAccuracy records known distributions with
// quantiles from 5 ms to 10 s and checks that histogram_quantile over the
// default classic buckets comes within 10 % of the HdrHistogram
// percentile (issue 12: the old buckets gave p50 375 ms for 304 ms).
func TestDefaultBucketsQuantileAccuracy(t *testing.T) {
	type dist struct {
		name string
		draw func(rng *rand.Rand) time.Duration
	}
	var dists []dist
	// Point masses, the worst case for interpolation, log-spaced from
	// 5 ms to 10 s (including the 304 ms).
	for v := 5 * time.Millisecond; v <= 10*time.Second; v = time.Duration(float64(v) * 1.13) {
		dists = append(dists, dist{"point " + v.String(), func(*rand.Rand) time.Duration { return v }})
	}
	dists = append(dists, dist{"point 304ms", func(*rand.Rand) time.Duration { return 304 * time.Millisecond }})
	for _, m := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second} {
		dists = append(dists,
			dist{"uniform " + m.String(), func(rng *rand.Rand) time.Duration { return m + time.Duration(rng.Float64()*float64(m)) }},
			dist{"lognormal " + m.String(), func(rng *rand.Rand) time.Duration {
				return time.Duration(float64(m) * math.Exp(0.4*rng.NormFloat64()))
			}},
			dist{"exponential " + m.String(), func(rng *rand.Rand) time.Duration {
				return m/2 + time.Duration(rng.ExpFloat64()*float64(m)/2)
			}},
		)
	}
	bounds := DefaultBuckets()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range dists {
		h := metrics.NewLatencyHistogram()
		for range 5000 {
			if err := h.RecordValue(d.draw(rng).Microseconds()); err != nil {
				t.Fatal(err)
			}
		}
		count, _, classic, _, _ := HistogramBuckets(h, 1e-6, bounds, DefaultNativeSchema)
		for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
			want := float64(h.ValueAtQuantile(q*100)) * 1e-6
			if want < 0.005 || want > 10 {
				continue
			}
			got := promQuantile(q, bounds, classic, count)
			if rel := math.Abs(got-want) / want; rel > 0.10 {
				t.Errorf("%s: histogram_quantile(%v) = %.4gs, HDR %.4gs: %.1f%% off", d.name, q, got, want, 100*rel)
			}
		}
	}
}

// TestCustomBuckets: CollectorOptions.Buckets replace the phase buckets.
func TestCustomBuckets(t *testing.T) {
	h := metrics.NewLatencyHistogram()
	for _, v := range []int64{1000, 20000, 300000} {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	bounds := []float64{0.01, 0.1, 1}
	_, _, classic, _, _ := HistogramBuckets(h, 1e-6, bounds, DefaultNativeSchema)
	want := map[float64]uint64{0.01: 1, 0.1: 2, 1: 3}
	for b, w := range want {
		if classic[b] != w {
			t.Errorf("bucket le=%v = %d, want %d", b, classic[b], w)
		}
	}
	if len(classic) != len(bounds) {
		t.Errorf("%d buckets, want %d", len(classic), len(bounds))
	}
}

func TestGeometricBuckets(t *testing.T) {
	b := DefaultBuckets()
	if len(b) != 129 || b[0] != math.Exp2(-10) || b[len(b)-1] != 64 {
		t.Fatalf("DefaultBuckets: %d bounds from %v to %v", len(b), b[0], b[len(b)-1])
	}
	for i := 1; i < len(b); i++ {
		if f := b[i] / b[i-1]; math.Abs(f-math.Exp2(1.0/8)) > 1e-9 {
			t.Fatalf("bound %d grows by %v", i, f)
		}
		// Each bound is a native schema-3 boundary.
		if got := nativeIndex(b[i], DefaultNativeSchema); got != i-80 {
			t.Fatalf("bound %v has native index %d, want %d", b[i], got, i-80)
		}
	}
	if GeometricBuckets(3, 2, 8) != nil || GeometricBuckets(0, 1, 0) != nil {
		t.Error("empty ranges must give nil")
	}
}
