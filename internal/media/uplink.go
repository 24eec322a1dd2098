package media

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"

	"github.com/loadgen/loadgen/internal/metrics"
)

// uplink keeps the far end's view of one stream we send: the latest RTCP
// report block about its SSRC (RFC 3550 §6.4.1). Written by whoever reads
// the RTCP (the router, or a PionDefaults reader goroutine), read by Stats.
type uplink struct {
	reports  atomic.Uint64
	fraction atomic.Uint32 // fraction lost since the previous report, /256
	lost     atomic.Int64  // cumulative packets lost (signed, as reported)
	jitter   atomic.Uint32 // interarrival jitter, RTP clock units
}

// record keeps one report block's figures.
func (u *uplink) record(fraction uint8, lost int32, jitter uint32) {
	u.fraction.Store(uint32(fraction))
	u.lost.Store(int64(lost))
	u.jitter.Store(jitter)
	u.reports.Add(1)
}

// recordBlock keeps a parsed report block's figures.
func (u *uplink) recordBlock(rr rtcp.ReceptionReport) {
	lost := int32(rr.TotalLost<<8) >> 8 // 24-bit two's complement
	u.record(rr.FractionLost, lost, rr.Jitter)
}

// addTo fills st's uplink figures; clock is the stream's RTP clock rate.
func (u *uplink) addTo(st *metrics.MediaStreamStats, clock uint32) {
	n := u.reports.Load()
	if n == 0 {
		return
	}
	st.UplinkReports = n
	st.UplinkPacketsLost = uint64(max(u.lost.Load(), 0))
	st.UplinkFractionLost = float64(u.fraction.Load()) / 256
	if clock > 0 {
		st.UplinkJitter = time.Duration(float64(u.jitter.Load()) * float64(time.Second) / float64(clock))
	}
}

// reportBlockFor finds, in a compound RTCP packet, the report block about
// ssrc (in a receiver or sender report).
func reportBlockFor(b []byte, ssrc uint32) (rtcp.ReceptionReport, bool) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return rtcp.ReceptionReport{}, false
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			reports = r.Reports
		case *rtcp.SenderReport:
			reports = r.Reports
		}
		for _, rr := range reports {
			if rr.SSRC == ssrc {
				return rr, true
			}
		}
	}
	return rtcp.ReceptionReport{}, false
}
