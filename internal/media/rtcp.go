package media

import (
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// ntpTime returns t as a 64-bit NTP timestamp (RFC 3550 §4).
func ntpTime(t time.Time) uint64 {
	sec := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return sec<<32 | frac
}

// ntpMiddle returns the middle 32 bits of t's 64-bit NTP timestamp, the
// unit of the LSR and DLSR fields (1/65536 s).
func ntpMiddle(t time.Time) uint32 {
	return uint32(ntpTime(t) >> 16)
}

// rttFromRTCP finds, in a compound RTCP packet, a report block about ssrc
// carrying a last-SR timestamp and returns the round-trip time it implies
// (RFC 3550 §6.4.1: arrival - LSR - DLSR).
func rttFromRTCP(b []byte, ssrc uint32, now time.Time) (time.Duration, bool) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return 0, false
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
			if rr.SSRC != ssrc {
				continue
			}
			if d, ok := rttFromBlock(rr.LastSenderReport, rr.Delay, now); ok {
				return d, true
			}
		}
	}
	return 0, false
}

// rttFromBlock is the round-trip time a report block with these last-SR
// and delay-since-last-SR fields implies when it arrives at now, or false
// when the block carries no last SR or the result is absurd.
func rttFromBlock(lsr, dlsr uint32, now time.Time) (time.Duration, bool) {
	if lsr == 0 {
		return 0, false
	}
	d := ntpMiddle(now) - lsr - dlsr
	if d > 10*65536 { // negative (clock wrap) or absurd: ignore
		return 0, false
	}
	return time.Duration(uint64(d) * uint64(time.Second) >> 16), true
}
