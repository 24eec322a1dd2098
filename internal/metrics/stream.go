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

// StreamTotals are media counters of one stream, summed over calls:
// Snapshot.Streams sums the finished calls (Recorder.Record); a live view
// adds the calls still up (see promexport's LiveMedia option).
type StreamTotals struct {
	PacketsSent     uint64 `json:"packets_sent"`
	BytesSent       uint64 `json:"bytes_sent"`
	PacketsReceived uint64 `json:"packets_received"`
	BytesReceived   uint64 `json:"bytes_received"`
	// PacketsLostDownlink were sent by the gateway and not received by
	// loadgen (by sequence number and by time: stalls and tails);
	// PacketsLostUplink were sent by loadgen and reported lost by the
	// gateway's RTCP receiver reports.
	PacketsLostDownlink uint64 `json:"packets_lost_downlink"`
	PacketsLostUplink   uint64 `json:"packets_lost_uplink"`
	// WriteErrors counts packets whose write failed.
	WriteErrors uint64 `json:"write_errors"`
}

// Add sums o into t.
func (t *StreamTotals) Add(o StreamTotals) { t.add(o) }

// add sums o into t.
func (t *StreamTotals) add(o StreamTotals) {
	t.PacketsSent += o.PacketsSent
	t.BytesSent += o.BytesSent
	t.PacketsReceived += o.PacketsReceived
	t.BytesReceived += o.BytesReceived
	t.PacketsLostDownlink += o.PacketsLostDownlink
	t.PacketsLostUplink += o.PacketsLostUplink
	t.WriteErrors += o.WriteErrors
}

// totals are one call's stream figures as stream totals.
func (s MediaStreamStats) totals() StreamTotals {
	return StreamTotals{
		PacketsSent: s.PacketsSent, BytesSent: s.BytesSent,
		PacketsReceived: s.PacketsReceived, BytesReceived: s.BytesReceived,
		PacketsLostDownlink: s.PacketsLost + s.StallMissing + s.TailMissing,
		PacketsLostUplink:   s.UplinkPacketsLost,
		WriteErrors:         s.WriteErrors,
	}
}

// StreamTotalsOf returns one call's media figures per stream.
func StreamTotalsOf(m MediaStats) [NumStreams]StreamTotals {
	return [NumStreams]StreamTotals{m.Audio.totals(), m.Video.totals()}
}
