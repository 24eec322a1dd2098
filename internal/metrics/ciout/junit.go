package ciout

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/summary"
)

// JUnit class names of the test cases, so a CI UI groups them.
const (
	// ThresholdClass is the class name of the threshold test cases.
	ThresholdClass = "loadgen.thresholds"
	// ValidityClass is the class name of the run-validity test case.
	ValidityClass = "loadgen.validity"
	// ValidityCase is the name of the run-validity test case.
	ValidityCase = "run validity"
)

// The JUnit XML elements, as Jenkins, GitLab and GitHub test reporters
// read them (the de facto schema of Ant's JUnit task).
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property"`
		Cases      []junitCase     `xml:"testcase"`
		SystemOut  string          `xml:"system-out,omitempty"`
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		ClassName string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure"`
		SystemOut string        `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// WriteJUnit writes the run as a JUnit XML report: one test suite named
// after the run, with one test case per threshold (failed when crossed;
// the message holds the expression and the measured value) and one test
// case "run validity" (failed when the generator was the bottleneck; the
// message holds the reasons). The suite's properties carry the scenario,
// run id, version and labels, and its system-out the text summary.
func WriteJUnit(w io.Writer, s *metrics.Snapshot, opts Options) error {
	dur := strconv.FormatFloat(s.Elapsed().Seconds(), 'f', 3, 64)
	name := "loadgen"
	if opts.Title != "" {
		name += ": " + opts.Title
	}
	suite := junitSuite{Name: name, Time: dur}
	if !s.Start.IsZero() {
		suite.Timestamp = s.Start.UTC().Format("2006-01-02T15:04:05")
	}
	prop := func(k, v string) {
		if v != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: k, Value: v})
		}
	}
	prop("scenario", opts.Title)
	prop("run_id", opts.RunID)
	prop("version", opts.Version)
	for _, k := range slices.Sorted(maps.Keys(opts.Labels)) {
		if k != "scenario" && k != "run_id" && k != "version" {
			prop(k, opts.Labels[k])
		}
	}
	prop("valid", strconv.FormatBool(opts.Validity.Valid))
	prop("calls_attempted", strconv.FormatUint(s.Attempted, 10))
	prop("calls_succeeded", strconv.FormatUint(s.Succeeded, 10))
	prop("calls_failed", strconv.FormatUint(s.Failed, 10))
	prop("rate_achieved", strconv.FormatFloat(s.AchievedRate(), 'f', 2, 64))

	for _, r := range opts.Thresholds {
		measured := r.Threshold.FormatValue(r.Measured)
		c := junitCase{Name: r.Threshold.String(), ClassName: ThresholdClass, Time: "0",
			SystemOut: "measured " + measured}
		if !r.OK {
			c.Failure = &junitFailure{Type: "threshold",
				Message: fmt.Sprintf("threshold crossed: %s: %s, measured %s", r.Threshold.Metric, r.Threshold.Expr, measured),
				Text:    r.String()}
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	vc := junitCase{Name: ValidityCase, ClassName: ValidityClass, Time: dur}
	if !opts.Validity.Valid {
		reasons := opts.Validity.Reasons
		if len(reasons) == 0 {
			reasons = []string{"no reason given"}
		}
		vc.Failure = &junitFailure{Type: "invalid",
			Message: "run invalid: the generator was a bottleneck: " + strings.Join(reasons, "; "),
			Text:    "- " + strings.Join(reasons, "\n- ")}
		suite.Failures++
	}
	if len(opts.Validity.Notes) > 0 {
		vc.SystemOut = "note: " + strings.Join(opts.Validity.Notes, "\nnote: ")
	}
	suite.Cases = append(suite.Cases, vc)
	suite.Tests = len(suite.Cases)

	var text bytes.Buffer
	if err := summary.Write(&text, s, summary.Options{Title: opts.Title, Thresholds: opts.Thresholds, Validity: opts.Validity, CPU: opts.CPU}); err != nil {
		return fmt.Errorf("ciout: junit: %w", err)
	}
	suite.SystemOut = text.String()

	doc := junitSuites{Name: "loadgen", Tests: suite.Tests, Failures: suite.Failures, Time: dur, Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("ciout: junit: %w", err)
	}
	ew := &errWriter{w: w}
	ew.printf("%s%s\n", xml.Header, out)
	if ew.err != nil {
		return fmt.Errorf("ciout: junit: %w", ew.err)
	}
	return nil
}
