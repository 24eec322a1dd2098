package metrics

// Stream is a kind of media a call carries, a closed set so it can be a
// Prometheus label.
type Stream int

// The streams.
const (
	// StreamAudio is the call's audio.
	StreamAudio Stream = iota
	// StreamVideo is the call's video.
	StreamVideo
	// NumStreams is the number of streams; not a stream.
	NumStreams
)

// String returns the stream's label value, "audio" or "video".
func (s Stream) String() string {
	switch s {
	case StreamAudio:
		return "audio"
	case StreamVideo:
		return "video"
	default:
		return "unknown"
	}
}

// StreamTotals are media counters of one stream, summed over calls. The
// media path adds to them while calls run (Recorder.AddStream), so they
// move live rather than when a call ends.
type StreamTotals struct {
	PacketsSent     uint64
	BytesSent       uint64
	PacketsReceived uint64
	BytesReceived   uint64
	// PacketsLostDownlink were sent by the gateway and not received by
	// loadgen; PacketsLostUplink were sent by loadgen and reported lost by
	// the gateway's RTCP receiver reports.
	PacketsLostDownlink uint64
	PacketsLostUplink   uint64
}

// add sums o into t.
func (t *StreamTotals) add(o StreamTotals) {
	t.PacketsSent += o.PacketsSent
	t.BytesSent += o.BytesSent
	t.PacketsReceived += o.PacketsReceived
	t.BytesReceived += o.BytesReceived
	t.PacketsLostDownlink += o.PacketsLostDownlink
	t.PacketsLostUplink += o.PacketsLostUplink
}

// AddStream adds delta to stream s's live totals (see Snapshot.Streams). A
// stream outside the closed set is ignored.
func (r *Recorder) AddStream(s Stream, delta StreamTotals) {
	if s < 0 || s >= NumStreams {
		return
	}
	r.mu.Lock()
	r.streams[s].add(delta)
	r.mu.Unlock()
}
