package media

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer tuning.
const (
	// reportSlots spreads the peers' RTCP reports over this many audio
	// ticks: each peer reports once every reportSlots*20 ms = 1 s.
	reportSlots = 50
	// maxCatchUpTicks is how many overdue ticks a shard replays at once
	// before it skips ahead (and counts the skipped frames as late).
	maxCatchUpTicks = 5
	// lateCheckEvery is how many tracks a shard writes between clock reads.
	lateCheckEvery = 32
)

// reporter is a peer the pacer writes RTCP reports for, once a second.
type reporter interface {
	sendReports(now time.Time)
}

// shard is one pacer goroutine and the peers registered with it. The
// registered sets are copy-on-write slices: the goroutine iterates a
// snapshot without locking, registration copies under mu.
type shard struct {
	mu    sync.Mutex
	audio atomic.Pointer[[]*outTrack]
	video atomic.Pointer[[]*outTrack]
	peers atomic.Pointer[[]reporter]
	slot  int // next report slot, goroutine-owned
	// wake is signalled by add, so a shard with no peer sleeps instead of
	// ticking (an idle generator costs no CPU).
	wake chan struct{}
	// flush, when set, runs after each wake-up's writes: the transport
	// queues the packets a tick writes and sends them in one batch.
	flush func()
}

func newShard() *shard {
	s := &shard{wake: make(chan struct{}, 1)}
	empty := []*outTrack{}
	s.audio.Store(&empty)
	emptyV := []*outTrack{}
	s.video.Store(&emptyV)
	noPeers := []reporter{}
	s.peers.Store(&noPeers)
	return s
}

// add registers a peer and its tracks.
func (s *shard) add(p reporter, tracks ...*outTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := *s.peers.Load()
	nextPeers := make([]reporter, len(peers), len(peers)+1)
	copy(nextPeers, peers)
	nextPeers = append(nextPeers, p)
	s.peers.Store(&nextPeers)
	for _, t := range tracks {
		set := &s.audio
		if t.src.kind == kindVideo {
			set = &s.video
		}
		cur := *set.Load()
		next := make([]*outTrack, len(cur), len(cur)+1)
		copy(next, cur)
		next = append(next, t)
		set.Store(&next)
	}
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// remove unregisters a peer and its tracks.
func (s *shard) remove(p reporter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := slices.DeleteFunc(slices.Clone(*s.peers.Load()), func(q reporter) bool { return q == p })
	s.peers.Store(&peers)
	for _, set := range []*atomic.Pointer[[]*outTrack]{&s.audio, &s.video} {
		cur := *set.Load()
		next := slices.DeleteFunc(slices.Clone(cur), func(t *outTrack) bool { return t.owner == p })
		set.Store(&next)
	}
}

// run paces until stop is closed. Ticks are computed from the start
// instant, so they do not drift.
func (s *shard) run(stop <-chan struct{}, audioPeriod, videoPeriod time.Duration) {
	start := time.Now()
	nextA := start.Add(audioPeriod)
	nextV := start.Add(videoPeriod)
	timer := time.NewTimer(audioPeriod)
	defer timer.Stop()
	for {
		if len(*s.peers.Load()) == 0 {
			// Nothing to pace: sleep until a peer registers, then start
			// a fresh schedule (no track depends on the old one).
			select {
			case <-stop:
				return
			case <-s.wake:
			}
			now := time.Now()
			nextA, nextV = now.Add(audioPeriod), now.Add(videoPeriod)
			continue
		}
		next := nextA
		if nextV.Before(next) {
			next = nextV
		}
		timer.Reset(time.Until(next))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(nextA) {
			nextA = s.ticks(s.audio.Load(), nextA, audioPeriod)
			s.reports()
		}
		if !now.Before(nextV) {
			nextV = s.ticks(s.video.Load(), nextV, videoPeriod)
		}
		if s.flush != nil {
			s.flush()
		}
	}
}

// ticks writes every due tick of one kind, starting with the one scheduled
// at due, and returns when the next tick is due.
func (s *shard) ticks(set *[]*outTrack, due time.Time, period time.Duration) time.Time {
	tracks := *set
	for i := 0; ; i++ {
		s.tick(tracks, due, period)
		due = due.Add(period)
		now := time.Now()
		if now.Before(due) {
			return due
		}
		if i+1 >= maxCatchUpTicks {
			// Too far behind: skip the overdue ticks. Media pauses (no
			// packet is lost: sequence numbers stay contiguous); the
			// skipped frames count as late writes.
			skipped := uint64(now.Sub(due)/period) + 1
			for _, t := range tracks {
				t.late.mark(skipped, due)
			}
			return due.Add(time.Duration(skipped) * period)
		}
	}
}

// tick writes one frame of every track in tracks for the tick scheduled at
// due. A packet written more than one period after due is a late write.
func (s *shard) tick(tracks []*outTrack, due time.Time, period time.Duration) {
	late := time.Since(due) > period
	for i, t := range tracks {
		if i%lateCheckEvery == lateCheckEvery-1 {
			late = time.Since(due) > period
		}
		t.writeFrame(due, late)
	}
}

// reports writes the RTCP reports of the peers in the current slot.
func (s *shard) reports() {
	peers := *s.peers.Load()
	now := time.Now()
	for i := s.slot; i < len(peers); i += reportSlots {
		peers[i].sendReports(now)
	}
	if s.slot++; s.slot == reportSlots {
		s.slot = 0
	}
}
