package media

import "time"

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
