package results

import (
	"sync"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// EncodingCache keeps the last V2 encoding of each of a run's histograms
// by name and reuses it while the histogram's count, minimum and maximum
// have not moved: a run's cumulative histograms only grow, so an equal
// count means the same histogram. The partial summary.json a run rewrites
// every few seconds then re-encodes only what changed: each encoding
// compresses with zlib and costs a megabyte of garbage and a millisecond
// or two of CPU, which on one CPU stalled the media pacers (late writes)
// through the garbage collections it caused. Safe for concurrent use.
type EncodingCache struct {
	mu sync.Mutex
	m  map[string]cachedEncoding
}

type cachedEncoding struct {
	count, min, max int64
	enc             string
}

// NewEncodingCache returns an empty cache.
func NewEncodingCache() *EncodingCache {
	return &EncodingCache{m: map[string]cachedEncoding{}}
}

// encode returns h's V2 compressed encoding, from the cache when the
// histogram named name is unchanged (c nil: always encoded).
func (c *EncodingCache) encode(name string, h *hdrhistogram.Histogram) (string, error) {
	if c == nil {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		return string(b), err
	}
	key := cachedEncoding{count: h.TotalCount(), min: h.Min(), max: h.Max()}
	c.mu.Lock()
	prev, ok := c.m[name]
	c.mu.Unlock()
	if ok && prev.count == key.count && prev.min == key.min && prev.max == key.max {
		return prev.enc, nil
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", err
	}
	key.enc = string(b)
	c.mu.Lock()
	c.m[name] = key
	c.mu.Unlock()
	return key.enc, nil
}
