package media

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Errors a Peer reports; test them with errors.Is.
var (
	// ErrICEFailed means ICE connectivity checks failed (or the ICE
	// connection went from disconnected to failed).
	ErrICEFailed = errors.New("media: ICE failed")
	// ErrDTLSFailed means ICE connected but the DTLS handshake failed.
	ErrDTLSFailed = errors.New("media: DTLS failed")
	// ErrClosed means the Peer or the Engine was closed.
	ErrClosed = errors.New("media: closed")
	// ErrBadSDP wraps a description the Peer could not apply.
	ErrBadSDP = errors.New("media: bad SDP")
	// ErrNoCandidates means ICE gathering ended (or timed out) without a
	// single candidate, e.g. relay-only with an unreachable TURN server.
	// It wraps ErrICEFailed.
	ErrNoCandidates = fmt.Errorf("%w: no ICE candidate gathered", ErrICEFailed)
)

// Events holds the instants a Peer reached its milestones; a zero
// time.Time means not (yet) reached. Each instant carries the monotonic
// clock reading of the Engine's clock (time.Now by default), so durations
// between them, and from any other instant taken with time.Now, are
// monotonic; their wall-clock part is for display only.
type Events struct {
	// ICEChecking is when ICE started connectivity checks.
	ICEChecking time.Time
	// ICEConnected is when ICE found a working candidate pair.
	ICEConnected time.Time
	// DTLSConnected is when the DTLS handshake completed (the peer
	// connection is connected).
	DTLSConnected time.Time
	// FirstRTPSent is when the first RTP packet was written.
	FirstRTPSent time.Time
	// FirstRTPReceived is when the first remote RTP packet was read.
	FirstRTPReceived time.Time
}

// event indexes instants.
type event int

const (
	evICEChecking event = iota
	evICEConnected
	evDTLSConnected
	evFirstSent
	evFirstReceived
	numEvents
)

// monoStamps turns instants into int64 offsets from a base instant and
// back, so that an instant fits one atomic word yet keeps the base's
// monotonic clock reading: the time.Time it gives back is base.Add(offset),
// and Sub between such instants (or with any other time.Time carrying a
// monotonic reading) is monotonic arithmetic, immune to wall-clock steps.
// The zero word means "not recorded".
type monoStamps struct{ base time.Time }

// enc returns t's offset from the base, never 0.
func (m monoStamps) enc(t time.Time) int64 {
	d := int64(t.Sub(m.base))
	if d >= 0 {
		return d + 1
	}
	return d
}

// dec is the instant enc encoded as v, or the zero time for v == 0.
func (m monoStamps) dec(v int64) time.Time {
	switch {
	case v == 0:
		return time.Time{}
	case v > 0:
		v--
	}
	return m.base.Add(time.Duration(v))
}

// instants records each event once, lock-free, as monotonic offsets from
// the instant the set was made.
type instants struct {
	v     [numEvents]atomic.Int64
	now   func() time.Time
	stamp monoStamps
}

// newInstants returns an empty set reading the clock now (which should
// carry a monotonic reading, as time.Now's does).
func newInstants(now func() time.Time) instants {
	return instants{now: now, stamp: monoStamps{base: now()}}
}

// mark records ev at now unless it was already recorded; it reports whether
// this call recorded it.
func (in *instants) mark(ev event) bool {
	if in.v[ev].Load() != 0 {
		return false
	}
	return in.v[ev].CompareAndSwap(0, in.stamp.enc(in.now()))
}

// get returns ev's instant (with the clock's monotonic reading) or the
// zero time.
func (in *instants) get(ev event) time.Time {
	return in.stamp.dec(in.v[ev].Load())
}

func (in *instants) snapshot() Events {
	return Events{
		ICEChecking:      in.get(evICEChecking),
		ICEConnected:     in.get(evICEConnected),
		DTLSConnected:    in.get(evDTLSConnected),
		FirstRTPSent:     in.get(evFirstSent),
		FirstRTPReceived: in.get(evFirstReceived),
	}
}
