// Package results writes and reads a run's result files: summary.json
// (SummaryFile), calls.jsonl (CallLine) and one HdrHistogram interval log
// (.hlog) per phase and timing.
package results

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/loadgen/loadgen/internal/metrics"
)

// Names of the result files under the output directory.
const (
	// SummaryFileName is the run summary (see SummaryFile).
	SummaryFileName = "summary.json"
	// CallsFileName holds one JSON object per finished call (see CallLine).
	CallsFileName = "calls.jsonl"
	// LagHlogName is the scheduler lag's interval log.
	LagHlogName = "lag.hlog"
)

// HlogName is the interval log file of a phase: "connect.hlog" from the
// scheduled start, "connect_service.hlog" from the actual start.
func HlogName(p metrics.Phase, service bool) string {
	if service {
		return p.String() + "_service.hlog"
	}
	return p.String() + ".hlog"
}

// hlogFile is one open interval log.
type hlogFile struct {
	f  *os.File
	bw *bufio.Writer
	lw *hdrhistogram.HistogramLogWriter
	// empty is the encoding of an empty interval (the same every time for
	// one geometry): a steady hold writes mostly empty intervals, and
	// each encoding compresses with zlib (a megabyte of garbage).
	empty string
}

// writeInterval writes one interval line as HdrHistogram's log writer
// does ("start,length,max,encoding", seconds from the base time, the
// maximum in milliseconds of nanoseconds' units, as its default ratio).
func (hf *hlogFile) writeInterval(h *hdrhistogram.Histogram) error {
	var enc string
	if h.TotalCount() == 0 && hf.empty != "" {
		enc = hf.empty
	} else {
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return err
		}
		enc = string(b)
		if h.TotalCount() == 0 {
			hf.empty = enc
		}
	}
	base := float64(hf.lw.BaseTime())
	start := (float64(h.StartTimeMs()) - base) / 1000
	end := (float64(h.EndTimeMs()) - base) / 1000
	_, err := fmt.Fprintf(hf.bw, "%f,%f,%f,%s\n", start, end-start, float64(h.Max())/hdrhistogram.MsToNsRatio, enc)
	return err
}

// Writer writes a run's result files into a directory: one HdrHistogram
// interval log per phase and timing plus the scheduler lag (standard
// HdrHistogram log format 1.3, values in microseconds, the interval max
// column in seconds; logs from several generators merge exactly with any
// HdrHistogram log tool), calls.jsonl streamed while the run goes, and
// summary.json at the end. Safe for concurrent use; Close flushes and
// closes everything.
type Writer struct {
	dir   string
	start time.Time

	mu         sync.Mutex
	hlogs      map[string]*hlogFile
	calls      *os.File
	callsW     *bufio.Writer
	enc        *json.Encoder
	closed     bool
	flushEvery time.Duration
	flushTimer *time.Timer // armed while calls.jsonl holds unflushed lines
	flushErr   error       // the first error of a timed flush

	sumMu sync.Mutex // serialises summary.json writes
	final bool       // a complete summary was written
}

// DefaultCallsFlush is how long a line may wait in calls.jsonl's buffer:
// a killed run loses at most this much of it.
const DefaultCallsFlush = time.Second

// Create creates dir (and parents) and opens every result file,
// writing the interval logs' headers with start as their start and base
// time.
func Create(dir string, start time.Time) (_ *Writer, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	r := &Writer{dir: dir, start: start, hlogs: make(map[string]*hlogFile), flushEvery: DefaultCallsFlush}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.Close())
		}
	}()
	startMs := start.UnixMilli()
	open := func(name, comment string) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		h := &hlogFile{f: f, bw: bufio.NewWriter(f)}
		h.lw = hdrhistogram.NewHistogramLogWriter(h.bw)
		r.hlogs[name] = h
		err = errors.Join(
			h.lw.OutputLogFormatVersion(),
			h.lw.OutputComment(comment),
			writeTimeHeaders(h.bw, startMs),
			h.lw.OutputLegend(),
			h.bw.Flush(),
		)
		if err != nil {
			return fmt.Errorf("results: %s header: %w", name, err)
		}
		h.lw.SetBaseTime(startMs)
		return nil
	}
	for p := range metrics.NumPhases {
		if err := open(HlogName(p, false), fmt.Sprintf("loadgen phase %s, from the scheduled start, microseconds", p)); err != nil {
			return nil, err
		}
		if err := open(HlogName(p, true), fmt.Sprintf("loadgen phase %s, service time from the actual start, microseconds", p)); err != nil {
			return nil, err
		}
	}
	if err := open(LagHlogName, "loadgen scheduler lag, microseconds"); err != nil {
		return nil, err
	}
	r.calls, err = os.Create(filepath.Join(dir, CallsFileName))
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	r.callsW = bufio.NewWriterSize(r.calls, 64<<10)
	r.enc = json.NewEncoder(r.callsW)
	return r, nil
}

// writeTimeHeaders writes the StartTime and BaseTime lines with
// millisecond precision, as HdrHistogram's log format has them
// ("#[StartTime: 1732430400.123 (seconds since epoch), 2024-11-24T06:40:00.123Z]").
// hdrhistogram-go's OutputStartTime and OutputBaseTime write whole
// seconds, which put every absolute time up to 999 ms early while the
// intervals are timed from the exact start.
func writeTimeHeaders(w io.Writer, startMs int64) error {
	secs := fmt.Sprintf("%d.%03d", startMs/1000, startMs%1000)
	iso := time.UnixMilli(startMs).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	if _, err := fmt.Fprintf(w, "#[StartTime: %s (seconds since epoch), %s]\n#[BaseTime: %s (seconds since epoch)]\n", secs, iso, secs); err != nil {
		return fmt.Errorf("results: hlog header: %w", err)
	}
	return nil
}

// Dir returns the output directory.
func (r *Writer) Dir() string { return r.dir }

// WriteInterval appends one interval to every interval log and flushes
// them, so a crashed run keeps its completed intervals.
func (r *Writer) WriteInterval(iv *metrics.Interval) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("results: write interval after close")
	}
	write := func(name string, h *hdrhistogram.Histogram) error {
		hf := r.hlogs[name]
		h.SetStartTimeMs(iv.Start.UnixMilli())
		h.SetEndTimeMs(iv.End.UnixMilli())
		if err := hf.writeInterval(h); err != nil {
			return fmt.Errorf("results: %s: %w", name, err)
		}
		if err := hf.bw.Flush(); err != nil {
			return fmt.Errorf("results: %s: %w", name, err)
		}
		// Each histogram's compression takes a millisecond or two: let
		// the media pacers run between them (one CPU, GOMAXPROCS 1).
		runtime.Gosched()
		return nil
	}
	for p := range metrics.NumPhases {
		if err := write(HlogName(p, false), iv.Scheduled[p]); err != nil {
			return err
		}
		if err := write(HlogName(p, true), iv.Service[p]); err != nil {
			return err
		}
	}
	return write(LagHlogName, iv.Lag)
}

// RunIntervals writes rec's interval every period until ctx is done, then
// writes the last interval and returns. Cancel ctx once every call has been
// recorded so the logs hold all of them.
func (r *Writer) RunIntervals(ctx context.Context, rec *metrics.Recorder, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("results: interval %v must be positive", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return r.WriteInterval(rec.TakeInterval())
		case <-t.C:
			if err := r.WriteInterval(rec.TakeInterval()); err != nil {
				return err
			}
		}
	}
}

// CallLine is one line of calls.jsonl.
type CallLine struct {
	Index     uint64    `json:"index"`
	Scheduled time.Time `json:"scheduled"`
	Started   time.Time `json:"started"`
	// LagUS is Started − Scheduled in microseconds.
	LagUS       int64  `json:"lag_us"`
	Outcome     string `json:"outcome"`
	FailedPhase string `json:"failed_phase,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// Status is the gateway's status behind a failed or aborted call as a
	// bounded label ("486", "none", "other"; see metrics.StatusLabel) and
	// StatusCode the raw value (omitted when 0).
	Status     string `json:"status,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
	// FailedAtMS is when a failed or aborted call failed, in milliseconds
	// from its scheduled start (µs resolution): its time to failure.
	FailedAtMS *float64 `json:"failed_at_ms,omitempty"`
	Error      string   `json:"error,omitempty"`
	// Phases maps each phase the call reached to its instant and its
	// durations in microseconds (hold and unhold: the last re-offer's).
	Phases map[string]PhaseTimes `json:"phases"`
	// Reoffers lists every hold and unhold re-offer in order.
	Reoffers []ReofferLine `json:"reoffers,omitempty"`
	EndBegan *time.Time    `json:"end_began,omitempty"`
	Media    *MediaLine    `json:"media,omitempty"`
	// MOS is the call's score (the worse direction, 2 decimals);
	// MOSDownlink and MOSUplink each direction's (uplink: absent without
	// the far end's reports). MOSDelay says where the delay came from:
	// "rtcp", "signalling" or "unknown" (then no score: a score with no
	// delay would assume 0 ms).
	MOS         *float64 `json:"mos,omitempty"`
	MOSDownlink *float64 `json:"mos_downlink,omitempty"`
	MOSUplink   *float64 `json:"mos_uplink,omitempty"`
	MOSDelay    string   `json:"mos_delay,omitempty"`
	Video       bool     `json:"video,omitempty"`
}

// MediaLine is a call's media in calls.jsonl: the totals over both
// streams (metrics.MediaStats' fields) and each stream's own figures under
// "audio" and "video" (absent when the call had no such stream). The codec
// is the audio stream's ("audio": {"codec": "opus", ...}); there is no
// top-level codec, which read as the codec of the whole call.
type MediaLine struct {
	metrics.MediaStats
	// Codec hides MediaStats.Codec from the line: it is never set, so it
	// is omitted (the audio stream carries the codec).
	Codec string      `json:"codec,omitempty"`
	Audio *StreamLine `json:"audio,omitempty"`
	Video *StreamLine `json:"video,omitempty"`
}

// StreamLine is one stream's figures in calls.jsonl, both directions (see
// metrics.MediaStreamStats), with its codec when known.
type StreamLine struct {
	Codec string `json:"codec,omitempty"`
	metrics.MediaStreamStats
}

// newMediaLine converts a call's media statistics into their calls.jsonl
// form.
func newMediaLine(m metrics.MediaStats, video bool) *MediaLine {
	ml := &MediaLine{MediaStats: m}
	if a := m.Audio; a != (metrics.MediaStreamStats{}) {
		ml.Audio = &StreamLine{Codec: m.Codec, MediaStreamStats: a}
	}
	if v := m.Video; v != (metrics.MediaStreamStats{}) || video {
		ml.Video = &StreamLine{MediaStreamStats: v}
	}
	return ml
}

// ReofferLine is one hold or unhold re-offer in calls.jsonl: when it was
// requested, when its answer was applied (absent when it failed) and the
// duration between, recorded as one value of the phase's histograms.
type ReofferLine struct {
	Phase      string     `json:"phase"`
	Requested  time.Time  `json:"requested"`
	Applied    *time.Time `json:"applied,omitempty"`
	DurationUS int64      `json:"duration_us,omitempty"`
}

// PhaseTimes is when a call completed a phase.
type PhaseTimes struct {
	At time.Time `json:"at"`
	// ScheduledUS and ServiceUS are the durations recorded in the
	// histograms (end: both from EndBegan; hold, unhold: both from the
	// re-offer's request).
	ScheduledUS int64 `json:"scheduled_us"`
	ServiceUS   int64 `json:"service_us"`
}

// NewCallLine converts a record into its calls.jsonl form.
func NewCallLine(rec metrics.CallRecord) CallLine {
	sched, started := rec.Scheduled, rec.Started
	if started.IsZero() {
		started = sched
	}
	if sched.IsZero() {
		sched = started
	}
	l := CallLine{
		Index: rec.Index, Scheduled: rec.Scheduled.UTC(), Started: rec.Started.UTC(),
		LagUS: started.Sub(sched).Microseconds(), Outcome: rec.Outcome.String(),
		Error: rec.Error, Video: rec.Video, Phases: map[string]PhaseTimes{},
	}
	if rec.Outcome == metrics.OutcomeFailed {
		l.FailedPhase, l.Reason = rec.FailedPhase.String(), string(rec.Reason)
	}
	if rec.Outcome == metrics.OutcomeFailed || rec.Outcome == metrics.OutcomeAborted {
		l.Status, l.StatusCode = rec.StatusLabel(), rec.Status
		if !rec.FailedAt.IsZero() {
			ms := float64(rec.FailedAt.Sub(sched).Microseconds()) / 1000
			l.FailedAtMS = &ms
		}
	}
	for p := range metrics.NumPhases {
		at := rec.Instants[p]
		if at.IsZero() {
			continue
		}
		pt := PhaseTimes{At: at.UTC(), ScheduledUS: at.Sub(sched).Microseconds(), ServiceUS: at.Sub(started).Microseconds()}
		if p == metrics.PhaseHold || p == metrics.PhaseUnhold {
			continue // from Reoffers, below
		}
		if p == metrics.PhaseEnd {
			if rec.EndBegan.IsZero() {
				continue
			}
			pt.ScheduledUS = at.Sub(rec.EndBegan).Microseconds()
			pt.ServiceUS = pt.ScheduledUS
		}
		l.Phases[p.String()] = pt
	}
	for _, ro := range rec.Reoffers {
		rl := ReofferLine{Phase: ro.Phase.String(), Requested: ro.Requested.UTC()}
		if !ro.Applied.IsZero() {
			at := ro.Applied.UTC()
			rl.Applied, rl.DurationUS = &at, ro.Duration().Microseconds()
			// The phase's entry is the last applied re-offer.
			l.Phases[ro.Phase.String()] = PhaseTimes{At: at, ScheduledUS: rl.DurationUS, ServiceUS: rl.DurationUS}
		}
		l.Reoffers = append(l.Reoffers, rl)
	}
	if !rec.EndBegan.IsZero() {
		eb := rec.EndBegan.UTC()
		l.EndBegan = &eb
	}
	if m := rec.Media; m != (metrics.MediaStats{}) {
		l.Media = newMediaLine(m, rec.Video)
		round := func(v float64) *float64 {
			v = float64(int64(v*metrics.MOSScale+0.5)) / metrics.MOSScale
			return &v
		}
		e, ok := m.EstimateMOS()
		l.MOSDelay = string(e.Delay)
		if ok {
			l.MOS, l.MOSDownlink = round(e.Score), round(e.Downlink)
			if e.UplinkKnown {
				l.MOSUplink = round(e.Uplink)
			}
		}
	}
	return l
}

// WriteCall appends one call to calls.jsonl. The line is buffered and
// written to the file within DefaultCallsFlush (a timer armed by the first
// unflushed line), so a kill -9 loses at most the last second of calls;
// Flush and Close write at once. An error of a timed flush is returned by
// the next WriteCall, Flush or Close.
func (r *Writer) WriteCall(rec metrics.CallRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("results: write call after close")
	}
	if err := r.flushErr; err != nil {
		return err
	}
	if err := r.enc.Encode(NewCallLine(rec)); err != nil {
		return fmt.Errorf("results: %s: %w", CallsFileName, err)
	}
	if r.flushTimer == nil {
		r.flushTimer = time.AfterFunc(r.flushEvery, r.timedFlush)
	}
	return nil
}

// timedFlush is the flush timer's function.
func (r *Writer) timedFlush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushTimer = nil
	if r.closed {
		return
	}
	if err := r.callsW.Flush(); err != nil && r.flushErr == nil {
		r.flushErr = fmt.Errorf("results: %s: %w", CallsFileName, err)
	}
}

// Flush writes calls.jsonl's buffered lines to the file now.
func (r *Writer) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("results: flush after close")
	}
	if r.flushTimer != nil {
		r.flushTimer.Stop()
		r.flushTimer = nil
	}
	if err := r.flushErr; err != nil {
		return err
	}
	if err := r.callsW.Flush(); err != nil {
		return fmt.Errorf("results: %s: %w", CallsFileName, err)
	}
	return nil
}

// RunSummaries rewrites summary.json every period until ctx is done, with
// what build returns (build should make it with Complete false; nil skips
// a tick), so a killed run leaves a parseable partial summary; each write
// is atomic (see WriteSummaryFile). It returns nil when ctx is done: the
// run then writes the final summary (Complete true) itself. A failed
// write is returned at once.
func (r *Writer) RunSummaries(ctx context.Context, every time.Duration, build func() *SummaryFile) error {
	if every <= 0 {
		return fmt.Errorf("results: summary period %v must be positive", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if f := build(); f != nil {
				if err := r.WriteSummary(f); err != nil {
					return err
				}
			}
		}
	}
}

// WriteSummary writes summary.json (via a temporary file renamed into
// place, so a reader never sees half of it). Once a complete summary is
// written, later partial ones are dropped: a periodic writer still running
// at the end of a run never replaces the final summary.
func (r *Writer) WriteSummary(f *SummaryFile) error {
	r.sumMu.Lock()
	defer r.sumMu.Unlock()
	if r.final && !f.Complete {
		return nil // a partial summary never replaces the final one
	}
	if err := WriteSummaryFile(r.dir, f); err != nil {
		return err
	}
	r.final = r.final || f.Complete
	return nil
}

// WriteSummaryFile writes f as dir/summary.json atomically.
func WriteSummaryFile(dir string, f *SummaryFile) (err error) {
	tmp, err := os.CreateTemp(dir, ".summary-*.json")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // best effort: the write already failed
			_ = os.Remove(tmp.Name()) // best effort cleanup of the temporary file
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := f.WriteJSON(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, SummaryFileName)); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// Close flushes and closes every file. Idempotent.
func (r *Writer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.flushTimer != nil {
		r.flushTimer.Stop()
		r.flushTimer = nil
	}
	errs := []error{r.flushErr}
	for name, h := range r.hlogs {
		if err := h.bw.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if err := h.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if r.calls != nil {
		if err := r.callsW.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", CallsFileName, err))
		}
		if err := r.calls.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", CallsFileName, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("results: close: %w", err)
	}
	return nil
}

// ReadHlog reads every interval of an interval log and returns them with
// their sum (a histogram with the recorder's geometry). Each interval's
// StartTimeMs and EndTimeMs are absolute, rounded to the millisecond: the
// log's BaseTime (with its decimals; when absent, StartTime for relative
// timestamps, as HdrHistogram's reader decides) plus the interval's
// timestamp. Tagged intervals keep their tag.
func ReadHlog(path string) (intervals []*hdrhistogram.Histogram, total *hdrhistogram.Histogram, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("results: read hlog: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			intervals, total, err = nil, nil, fmt.Errorf("results: read hlog: %w", cerr)
		}
	}()
	return readHlog(f, filepath.Base(path))
}

// readHlog parses the interval log name from r (see ReadHlog).
func readHlog(r io.Reader, name string) (intervals []*hdrhistogram.Histogram, total *hdrhistogram.Histogram, err error) {
	fail := func(line int, format string, a ...any) error {
		return fmt.Errorf("results: read hlog %s: line %d: %s", name, line, fmt.Sprintf(format, a...))
	}
	total = metrics.NewLatencyHistogram()
	var startSec, baseSec float64
	var haveStart, haveBase bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, `"StartTimestamp"`):
			continue
		case strings.HasPrefix(line, "#[StartTime: "), strings.HasPrefix(line, "#[BaseTime: "):
			fields := strings.Fields(line)
			v, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				return nil, nil, fail(n, "bad time %q", fields[1])
			}
			if strings.HasPrefix(line, "#[StartTime") {
				startSec, haveStart = v, true
			} else {
				baseSec, haveBase = v, true
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		tag := ""
		if rest, ok := strings.CutPrefix(line, "Tag="); ok {
			t, after, ok := strings.Cut(rest, ",")
			if !ok {
				return nil, nil, fail(n, "tag without an interval")
			}
			tag, line = t, after
		}
		cols := strings.SplitN(line, ",", 4)
		if len(cols) != 4 {
			return nil, nil, fail(n, "want 4 columns, got %d", len(cols))
		}
		ts, err1 := strconv.ParseFloat(cols[0], 64)
		length, err2 := strconv.ParseFloat(cols[1], 64)
		if err1 != nil || err2 != nil {
			return nil, nil, fail(n, "bad timestamp or length")
		}
		if !haveStart {
			startSec, haveStart = ts, true
		}
		if !haveBase {
			// HdrHistogram's rule: timestamps more than a year before the
			// start time are relative to it.
			if ts < startSec-365*24*3600 {
				baseSec = startSec
			}
			haveBase = true
		}
		h, err := hdrhistogram.Decode([]byte(strings.TrimSpace(cols[3])))
		if err != nil {
			return nil, nil, fail(n, "%v", err)
		}
		h.SetStartTimeMs(int64(math.Round((baseSec + ts) * 1000)))
		h.SetEndTimeMs(int64(math.Round((baseSec + ts + length) * 1000)))
		if tag != "" {
			h.SetTag(tag)
		}
		if d := total.Merge(h); d != 0 {
			return nil, nil, fail(n, "%d values outside the range", d)
		}
		intervals = append(intervals, h)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("results: read hlog %s: %w", name, err)
	}
	return intervals, total, nil
}

// WriteHlogFile writes a complete interval log at path: the format
// version, comment, StartTime and BaseTime (start, to the millisecond), the
// legend, then every interval with its own absolute start and end (as
// ReadHlog returns them), so intervals from several generators share one
// time base.
func WriteHlogFile(path, comment string, start time.Time, intervals []*hdrhistogram.Histogram) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("results: %w", cerr)
		}
	}()
	bw := bufio.NewWriter(f)
	lw := hdrhistogram.NewHistogramLogWriter(bw)
	startMs := start.UnixMilli()
	if err := errors.Join(lw.OutputLogFormatVersion(), lw.OutputComment(comment), writeTimeHeaders(bw, startMs), lw.OutputLegend()); err != nil {
		return fmt.Errorf("results: %s header: %w", filepath.Base(path), err)
	}
	lw.SetBaseTime(startMs)
	for _, h := range intervals {
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("results: %s: %w", filepath.Base(path), err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("results: %s: %w", filepath.Base(path), err)
	}
	return nil
}
