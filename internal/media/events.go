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
// time.Time means not (yet) reached.
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

// instants records each event once, lock-free (unix nanoseconds).
type instants struct {
	v   [numEvents]atomic.Int64
	now func() time.Time
}

// mark records ev at now unless it was already recorded; it reports whether
// this call recorded it.
func (in *instants) mark(ev event) bool {
	if in.v[ev].Load() != 0 {
		return false
	}
	return in.v[ev].CompareAndSwap(0, in.now().UnixNano())
}

// get returns ev's instant or the zero time.
func (in *instants) get(ev event) time.Time {
	n := in.v[ev].Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
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
