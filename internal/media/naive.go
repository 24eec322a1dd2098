package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	pmedia "github.com/pion/webrtc/v4/pkg/media"
)

// naiveTrack is the PionDefaults way to send a Source: a
// TrackLocalStaticSample fed by its own ticker goroutine (as pion's
// play-from-disk example does).
type naiveTrack struct {
	p         *Peer
	src       *Source
	track     *webrtc.TrackLocalStaticSample
	frames    [][]byte // whole frames (VP8 frames, Opus packets)
	paused    atomic.Bool
	pkts      atomic.Uint64
	bytes     atomic.Uint64
	late      lateCounter
	rttNanos  atomic.Int64
	writeErrs atomic.Uint64
	up        uplink // the far end's reports about this track's SSRC

	once  sync.Once
	quit  chan struct{}
	wg    sync.WaitGroup
	first atomic.Bool
}

func newNaiveTrack(p *Peer, src *Source, id, streamID string) (*naiveTrack, error) {
	tr, err := webrtc.NewTrackLocalStaticSample(src.codecCapability(), id, streamID)
	if err != nil {
		return nil, err
	}
	return &naiveTrack{p: p, src: src, track: tr, frames: src.raw, quit: make(chan struct{}), late: newLateCounter()}, nil
}

// start launches the ticker goroutine (once).
func (t *naiveTrack) start() {
	t.once.Do(func() {
		t.wg.Go(t.run)
	})
}

func (t *naiveTrack) run() {
	tick := time.NewTicker(t.src.period)
	defer tick.Stop()
	var last time.Time
	for i := 0; ; {
		var due time.Time
		select {
		case <-t.quit:
			return
		case due = <-tick.C:
		}
		// Late the same way as the lean pacer's writes: written more than
		// one period after the tick was due, or ticks the Ticker dropped
		// because this goroutine was behind.
		if !last.IsZero() {
			if gap := due.Sub(last); gap > t.src.period*3/2 {
				t.late.mark(uint64((gap+t.src.period/2)/t.src.period)-1, due)
			}
		}
		last = due
		if t.paused.Load() {
			continue
		}
		if time.Since(due) > t.src.period {
			t.late.mark(1, due)
		}
		f := t.frames[i]
		fr := t.src.frames[i]
		if err := t.track.WriteSample(pmedia.Sample{Data: f, Duration: t.src.period}); err != nil {
			// Not sent: counted apart, never as sent.
			t.writeErrs.Add(uint64(fr.n))
		} else {
			if t.first.CompareAndSwap(false, true) {
				t.p.inst.mark(evFirstSent)
			}
			t.pkts.Add(uint64(fr.n))
			t.bytes.Add(uint64(len(f)))
		}
		if i++; i == len(t.frames) {
			i = 0
		}
	}
}

func (t *naiveTrack) stop() {
	select {
	case <-t.quit:
	default:
		close(t.quit)
	}
}

func (t *naiveTrack) wait() { t.wg.Wait() }
