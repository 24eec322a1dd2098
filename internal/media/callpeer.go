package media

import (
	"context"

	"github.com/loadgen/loadgen/internal/metrics"
)

// CallPeer is one call's media as a caller drives it: the pion peer (*Peer)
// and the transport's peer implement it, so internal/call does not care
// which engine built it.
type CallPeer interface {
	// CreateOffer returns the initial offer, every candidate inside.
	CreateOffer(ctx context.Context) (string, error)
	// ApplyAnswer applies the remote answer to the last offer.
	ApplyAnswer(answerSDP string) error
	// HoldOffer returns a re-offer for hold (inactive) or unhold.
	HoldOffer(ctx context.Context, hold bool) (string, error)
	// Answer answers a remote re-offer (a hold or unhold from the far end).
	Answer(ctx context.Context, offerSDP string) (string, error)
	// Events returns the instants reached so far.
	Events() Events
	// WaitConnected waits for ICE and DTLS.
	WaitConnected(ctx context.Context) error
	// WaitFirstMedia waits for the first remote RTP packet.
	WaitFirstMedia(ctx context.Context) error
	// Stats returns the media statistics so far.
	Stats() metrics.MediaStats
	// Close ends the media and waits for what the peer started.
	Close() error
}

// NewCall creates a caller on the engine's transport: loadgen's own
// transport when EngineConfig.Transport is set, else a pion peer
// (NewCaller).
func (e *Engine) NewCall(opts PeerOptions) (CallPeer, error) {
	if e.cfg.Transport {
		return e.newTransportCaller(opts)
	}
	return e.NewCaller(opts)
}
