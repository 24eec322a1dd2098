package media

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer tuning.
const (
	// phases splits each kind's frame period into this many slots: a call
	// is placed in one slot (round robin) and its frames are due at its
	// slot's instant in every period. A wake-up writes one slot's calls,
	// not all of them, so a wake-up's work is a tenth of a period's and a
	// wake-up that comes late makes fewer packets late; the far end sees
	// packets spread over the period, as from independent clients, not
	// a burst every 20 ms.
	phases = 10
	// reportSlots spreads the peers' RTCP reports over this many audio
	// wake-ups: each peer reports once every reportSlots*20ms/phases = 1 s.
	reportSlots = 50 * phases
	// maxCatchUpTicks is how many overdue periods a shard replays at once
	// before it skips ahead (and counts the skipped frames as late).
	maxCatchUpTicks = 5
	// lateCheckEvery is how many tracks a shard writes between clock reads.
	lateCheckEvery = 32
)

// trackSet is a copy-on-write slice of tracks the pacer goroutine reads
// without locking.
type trackSet = atomic.Pointer[[]*outTrack]

// shard is one pacer goroutine and the peers registered with it. The
// registered sets are copy-on-write slices: the goroutine iterates a
// snapshot without locking, registration copies under mu.
type shard struct {
	mu    sync.Mutex
	audio [phases]trackSet
	video [phases]trackSet
	peers atomic.Pointer[[]reporter]
	phase int // next phase a peer is placed in (mu)
	slot  int // next report slot, goroutine-owned
	// wake is signalled by add, so a shard with no peer sleeps instead of
	// ticking (an idle generator costs no CPU).
	wake chan struct{}
	// flush, when set, runs after each wake-up's writes: the transport
	// queues the packets a tick writes and sends them in one batch.
	flush func()
}

// reporter is a peer the pacer writes RTCP reports for, once a second.
type reporter interface {
	sendReports(now time.Time)
}

func newShard() *shard {
	s := &shard{wake: make(chan struct{}, 1)}
	for i := range phases {
		a, v := []*outTrack{}, []*outTrack{}
		s.audio[i].Store(&a)
		s.video[i].Store(&v)
	}
	noPeers := []reporter{}
	s.peers.Store(&noPeers)
	return s
}

// add registers a peer and its tracks, all in the next phase.
func (s *shard) add(p reporter, tracks ...*outTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	peers := *s.peers.Load()
	nextPeers := make([]reporter, len(peers), len(peers)+1)
	copy(nextPeers, peers)
	nextPeers = append(nextPeers, p)
	s.peers.Store(&nextPeers)
	ph := s.phase
	s.phase = (s.phase + 1) % phases
	for _, t := range tracks {
		set := &s.audio[ph]
		if t.src.kind == kindVideo {
			set = &s.video[ph]
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
	for i := range phases {
		for _, set := range []*trackSet{&s.audio[i], &s.video[i]} {
			cur := *set.Load()
			if !slices.ContainsFunc(cur, func(t *outTrack) bool { return t.owner == p }) {
				continue
			}
			next := slices.DeleteFunc(slices.Clone(cur), func(t *outTrack) bool { return t.owner == p })
			set.Store(&next)
		}
	}
}

// clock is one kind's schedule: the next phase and when it is due.
type clock struct {
	next   time.Time
	phase  int
	period time.Duration
}

func (c *clock) step() time.Duration { return c.period / phases }

// run paces until stop is closed. Wake-ups are computed from the start
// instant, so they do not drift.
func (s *shard) run(stop <-chan struct{}, audioPeriod, videoPeriod time.Duration) {
	start := time.Now()
	a := clock{next: start.Add(audioPeriod / phases), period: audioPeriod}
	v := clock{next: start.Add(videoPeriod / phases), period: videoPeriod}
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
			a.next, v.next = now.Add(a.step()), now.Add(v.step())
			continue
		}
		next := a.next
		if v.next.Before(next) {
			next = v.next
		}
		timer.Reset(time.Until(next))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		now := time.Now()
		if !now.Before(a.next) {
			s.ticks(&s.audio, &a)
			s.reports()
		}
		if !now.Before(v.next) {
			s.ticks(&s.video, &v)
		}
		if s.flush != nil {
			s.flush()
		}
	}
}

// ticks writes every due phase of one kind, starting with c's, and
// advances c to the next phase not yet due.
func (s *shard) ticks(sets *[phases]trackSet, c *clock) {
	for i := 0; ; i++ {
		s.tick(*sets[c.phase].Load(), c.next, c.period)
		c.next = c.next.Add(c.step())
		c.phase = (c.phase + 1) % phases
		now := time.Now()
		if now.Before(c.next) {
			return
		}
		if i+1 >= maxCatchUpTicks*phases {
			// Too far behind: skip the overdue periods. Media pauses (no
			// packet is lost: sequence numbers stay contiguous); the
			// skipped frames count as late writes.
			skipped := uint64(now.Sub(c.next)/c.period) + 1
			for p := range phases {
				for _, t := range *sets[p].Load() {
					t.late.mark(skipped, c.next)
				}
			}
			c.next = c.next.Add(time.Duration(skipped) * c.period)
			return
		}
	}
}

// tick writes one frame of every track in tracks for the instant due. A
// packet written more than one period after due is a late write.
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
