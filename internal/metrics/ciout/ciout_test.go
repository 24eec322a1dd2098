package ciout

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/loadgen/loadgen/internal/cpu"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/metricstest"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
	"github.com/loadgen/loadgen/internal/metrics/validity"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The JUnit elements the tests read back.
type (
	xSuites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []xSuite `xml:"testsuite"`
	}
	xSuite struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
		} `xml:"testcase"`
		SystemOut string `xml:"system-out"`
	}
)

func TestWriteJUnit(t *testing.T) {
	s := metricstest.Run(7, 300, 100)
	tests := []struct {
		name      string
		exprs     [][2]string
		valid     validity.Verdict
		cases     int
		failures  int
		failedIn  []string // substrings of the failure messages, in case order
		validFail bool
	}{
		{
			name:  "all pass",
			exprs: [][2]string{{"connect", "p(99) < 60m"}, {"dropped", "count < 100"}},
			valid: validity.Verdict{Valid: true}, cases: 3, failures: 0,
		},
		{
			name:  "one crossed",
			exprs: [][2]string{{"connect", "p(99) < 1ms"}, {"dropped", "count < 100"}, {"failures", "rate < 0.5"}},
			valid: validity.Verdict{Valid: true},
			cases: 4, failures: 1,
			failedIn: []string{"threshold crossed: connect: p(99) < 1ms, measured "},
		},
		{
			name:  "invalid and crossed",
			exprs: [][2]string{{"dropped", "count == 0"}},
			valid: validity.Verdict{Reasons: []string{"scheduler lag p99 80ms > 50ms", "CPU 97% > 85%"}},
			cases: 2, failures: 2,
			failedIn:  []string{"measured 3", "run invalid: the generator was a bottleneck: scheduler lag p99 80ms > 50ms; CPU 97% > 85%"},
			validFail: true,
		},
		{
			name: "no thresholds", valid: validity.Verdict{Valid: true, Notes: []string{"short run"}}, cases: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{Title: "smoke & co", RunID: "r-123", Version: "v1.2.3", Labels: map[string]string{"mode": "regular"},
				Thresholds: evaluate(t, s, tc.exprs...), Validity: tc.valid, CPU: &cpu.Usage{CPUs: 2, Utilization: 0.3, Peak: 0.5}}
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, s, opts); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(buf.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
				t.Errorf("no XML header:\n%s", buf.String())
			}
			var doc xSuites
			if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("parse: %v\n%s", err, buf.String())
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			su := doc.Suites[0]
			if su.Name != "loadgen: smoke & co" {
				t.Errorf("suite name = %q", su.Name)
			}
			gotFail := 0
			var msgs []string
			for _, c := range su.Cases {
				if c.Failure != nil {
					gotFail++
					msgs = append(msgs, c.Failure.Message)
				}
			}
			if len(su.Cases) != tc.cases || su.Tests != tc.cases || doc.Tests != tc.cases {
				t.Errorf("cases: %d parsed, suite says %d, root says %d; want %d", len(su.Cases), su.Tests, doc.Tests, tc.cases)
			}
			if gotFail != tc.failures || su.Failures != tc.failures || doc.Failures != tc.failures {
				t.Errorf("failures: %d parsed, suite says %d, root says %d; want %d", gotFail, su.Failures, doc.Failures, tc.failures)
			}
			if len(msgs) != len(tc.failedIn) {
				t.Errorf("failure messages %q, want %d", msgs, len(tc.failedIn))
			} else {
				for i, want := range tc.failedIn {
					if !strings.Contains(msgs[i], want) {
						t.Errorf("failure %d = %q, want it to contain %q", i, msgs[i], want)
					}
				}
			}
			for i, r := range opts.Thresholds {
				if got, want := su.Cases[i].Name, r.Threshold.String(); got != want || su.Cases[i].ClassName != ThresholdClass {
					t.Errorf("case %d = %s %q, want %s %q", i, su.Cases[i].ClassName, got, ThresholdClass, want)
				}
			}
			last := su.Cases[len(su.Cases)-1]
			if last.Name != ValidityCase || last.ClassName != ValidityClass || (last.Failure != nil) != tc.validFail {
				t.Errorf("last case = %s %q failed=%v, want %s %q failed=%v", last.ClassName, last.Name, last.Failure != nil, ValidityClass, ValidityCase, tc.validFail)
			}
			props := map[string]string{}
			for _, p := range su.Properties {
				props[p.Name] = p.Value
			}
			for k, v := range map[string]string{"scenario": "smoke & co", "run_id": "r-123", "version": "v1.2.3", "mode": "regular", "calls_attempted": "300"} {
				if props[k] != v {
					t.Errorf("property %s = %q, want %q", k, props[k], v)
				}
			}
			if !strings.Contains(su.SystemOut, "loadgen summary: smoke & co") {
				t.Errorf("system-out lacks the text summary:\n%s", su.SystemOut)
			}
		})
	}
}

func TestWriteMarkdownGolden(t *testing.T) {
	s := metricstest.Run(7, 300, 100)
	tests := []struct {
		name   string
		golden string
		opts   Options
	}{
		{"failed", "summary_failed.md.golden", Options{Title: "golden", RunID: "r-42", Version: "v0.9.0", Labels: map[string]string{"mode": "regular"},
			Thresholds: evaluate(t, s, [2]string{"connect", "p(99) < 2s"}, [2]string{"failures", "rate < 0.01"}, [2]string{"mos", "avg > 4"}),
			Validity:   validity.Verdict{Reasons: []string{"generator CPU 97% > 85%"}, Notes: []string{"peak CPU 100%"}},
			CPU:        &cpu.Usage{CPUs: 8, Utilization: 0.97, Peak: 1}}},
		{"passed", "summary_passed.md.golden", Options{Title: "golden | pipes",
			Thresholds: evaluate(t, s, [2]string{"connect", "p(99) < 60m"}),
			Validity:   validity.Verdict{Valid: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteMarkdown(&buf, s, tc.opts); err != nil {
				t.Fatal(err)
			}
			metricstest.Golden(t, tc.golden, buf.Bytes(), *update)
		})
	}
}

func TestWriteMarkdownEmpty(t *testing.T) {
	clk := metricstest.NewClock()
	s := metrics.NewRecorder(metrics.RecorderOptions{Now: clk.Now}).Snapshot()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, s, Options{Validity: validity.Verdict{Valid: true}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## ✅ loadgen — passed", "No thresholds were set.", "No call reported media.", "| connect | 0 |"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty summary lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "NaN") {
		t.Errorf("empty summary has NaN:\n%s", buf.String())
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriteErrors(t *testing.T) {
	s := metricstest.Run(7, 300, 100)
	if err := WriteMarkdown(failWriter{}, s, Options{}); err == nil || !strings.HasPrefix(err.Error(), "ciout: markdown: ") {
		t.Errorf("WriteMarkdown(failing writer) = %v", err)
	}
	if err := WriteJUnit(failWriter{}, s, Options{}); err == nil || !strings.HasPrefix(err.Error(), "ciout: junit: ") {
		t.Errorf("WriteJUnit(failing writer) = %v", err)
	}
}

// evaluate parses {metric, expression} pairs and evaluates them on s.
func evaluate(t *testing.T, s *metrics.Snapshot, exprs ...[2]string) []threshold.Result {
	t.Helper()
	ths, err := threshold.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return threshold.Evaluate(s, ths)
}
