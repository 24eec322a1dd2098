package results

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
)

// callLineJSON encodes rec's calls.jsonl line and decodes it into a map,
// so the test sees exactly the keys a reader sees.
func callLineJSON(t *testing.T, rec metrics.CallRecord) map[string]any {
	t.Helper()
	b, err := json.Marshal(NewCallLine(rec))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCallLineStatus(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		outcome    metrics.Outcome
		status     int
		wantStatus any // nil: absent
		wantCode   any
	}{
		{"callEnd 486", metrics.OutcomeFailed, 486, "486", 486.0},
		{"no status", metrics.OutcomeFailed, 0, "none", nil},
		{"SPiDR code", metrics.OutcomeFailed, 46, "other", 46.0},
		{"aborted", metrics.OutcomeAborted, 0, "none", nil},
		{"success", metrics.OutcomeSuccess, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := metrics.CallRecord{Scheduled: base, Started: base, Outcome: tt.outcome, Status: tt.status,
				FailedPhase: metrics.PhaseConnect, Reason: metrics.ReasonRemoteEnded}
			m := callLineJSON(t, rec)
			if got := m["status"]; got != tt.wantStatus {
				t.Errorf("status = %v, want %v", got, tt.wantStatus)
			}
			if got := m["status_code"]; got != tt.wantCode {
				t.Errorf("status_code = %v, want %v", got, tt.wantCode)
			}
		})
	}
}

func TestCallLineFailedAt(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := metrics.CallRecord{Scheduled: base, Started: base.Add(time.Millisecond), Outcome: metrics.OutcomeFailed,
		FailedPhase: metrics.PhaseConnect, Reason: metrics.ReasonTimeout, FailedAt: base.Add(1234567 * time.Microsecond)}
	if got := callLineJSON(t, rec)["failed_at_ms"]; got != 1234.567 {
		t.Errorf("failed_at_ms = %v, want 1234.567 (from the scheduled start)", got)
	}
	rec.Outcome, rec.FailedAt = metrics.OutcomeSuccess, time.Time{}
	if got, ok := callLineJSON(t, rec)["failed_at_ms"]; ok {
		t.Errorf("success has failed_at_ms %v", got)
	}
}

func TestCallLineReoffers(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := metrics.CallRecord{Scheduled: base, Started: base, Outcome: metrics.OutcomeFailed, FailedPhase: metrics.PhaseUnhold,
		Reason: metrics.ReasonTimeout, Reoffers: []metrics.Reoffer{
			{Phase: metrics.PhaseHold, Requested: base.Add(time.Second), Applied: base.Add(time.Second + 25*time.Millisecond)},
			{Phase: metrics.PhaseUnhold, Requested: base.Add(2 * time.Second)},
		}}
	rec.Instants[metrics.PhaseHold] = rec.Reoffers[0].Applied
	l := NewCallLine(rec)
	if len(l.Reoffers) != 2 || l.Reoffers[0].DurationUS != 25000 || l.Reoffers[1].Applied != nil || l.Reoffers[1].Phase != "unhold" {
		t.Errorf("reoffers = %+v", l.Reoffers)
	}
	if got := l.Phases["hold"]; got.ScheduledUS != 25000 || got.ServiceUS != 25000 {
		t.Errorf("phases[hold] = %+v, want 25 ms both (from the request)", got)
	}
	if _, ok := l.Phases["unhold"]; ok {
		t.Error("failed unhold has a phase entry")
	}
}

func TestCallLineMedia(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := metrics.MediaStats{Codec: "opus", PacketsSent: 300, PacketsReceived: 300,
		Audio: metrics.MediaStreamStats{PacketsSent: 100, PacketsReceived: 100},
		Video: metrics.MediaStreamStats{PacketsSent: 200, PacketsReceived: 200, StallMissing: 7}}
	tests := []struct {
		name      string
		rttRTCP   time.Duration
		rttSignal time.Duration
		video     bool
		wantDelay string
		wantMOS   bool
	}{
		{"video call, rtcp", 40 * time.Millisecond, 0, true, "rtcp", true},
		{"signalling delay", 0, 3 * time.Millisecond, true, "signalling", true},
		{"unknown delay", 0, 0, true, "unknown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm := m
			mm.RTT, mm.SignallingRTT = tt.rttRTCP, tt.rttSignal
			j := callLineJSON(t, metrics.CallRecord{Scheduled: base, Started: base, Outcome: metrics.OutcomeSuccess, Media: mm, Video: tt.video})
			media := j["media"].(map[string]any)
			if _, ok := media["codec"]; ok {
				t.Errorf("media has a top-level codec: %v", media["codec"])
			}
			audio, _ := media["audio"].(map[string]any)
			video, _ := media["video"].(map[string]any)
			if audio["codec"] != "opus" || audio["packets_sent"] != 100.0 {
				t.Errorf("audio = %v, want codec opus and its own packets", audio)
			}
			if _, ok := video["codec"]; ok || video["packets_sent"] != 200.0 || video["stall_missing"] != 7.0 {
				t.Errorf("video = %v, want its own packets and no codec", video)
			}
			if j["mos_delay"] != tt.wantDelay {
				t.Errorf("mos_delay = %v, want %s", j["mos_delay"], tt.wantDelay)
			}
			if _, ok := j["mos"]; ok != tt.wantMOS {
				t.Errorf("mos present %v, want %v", ok, tt.wantMOS)
			}
		})
	}
}
