package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzFile is the file name every fuzzed scenario is parsed as; messages
// must start with it.
const fuzzFile = "fuzz.yaml"

// FuzzParse feeds arbitrary bytes to Parse. Properties:
//   - Parse never panics (nor do Describe and ExpectedCalls on its result);
//   - it returns either a scenario or an error, never both or neither;
//   - an accepted scenario validates again with no problem, and describes
//     itself the same way after that second validation; its load never
//     lasts a negative time (stages whose sum overflows are refused);
//   - a rejection is an Errors of *FieldError, each one line long, in line
//     order, reading "fuzz.yaml:LINE: " with LINE > 0, followed by
//     "PATH: " when the problem names a field.
//
// Seeds: the shipped scenarios/*.yaml, small hand-written cases below, and
// testdata/fuzz/FuzzParse (regression inputs found by fuzzing).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"load: {rate: 3, duration: 10s}\n",
		"load:\n  rat: 5\n  duration: 10s\n",
		"lod:\n  rate: 5\n",
		"load:\n  stages:\n    - {duration: 10s, target: 5}\n    - {duration: 0s, target: 0}\n",
		"load: {concurrent: 4, max_calls: 10}\ncall:\n  hold: {distribution: normal, mean: 2s, stddev: 1s, max: 4s}\n  hold_unhold: [{at: 1s, duration: 1s}]\n",
		"target: {rest_url: \"https://gw:443\", ice_servers: [{urls: turn:x, username: u, credential: c}], ice_transport_policy: relay}\nload: {rate: 1, max_calls: 1}\n",
		"mode: token\ntoken: {key_env: K, realm: r, account: \"a-{n}\"}\nload: {rate: 1, max_calls: 1}\n",
		"thresholds:\n  connect: [\"p(99) < 2s\", {threshold: \"p(50) < 1s\", abort_on_fail: true, delay_abort_eval: 5s}]\nload: {rate: 1, duration: 1s}\n",
		"base: &b {rate: 1, duration: 1s}\nload: *b\n",
		"load: &b {rate: 1, max_calls: 1}\ncall: {hold: *b}\n",
		"gateway: {answer_delay: -1s, reject_ratio: .nan, reject_status: 99999999999}\nload: {rate: 1e309, max_calls: 1}\n",
		"load: {rate: 1, max_calls: 1}\nload: {rate: 2, max_calls: 2}\n",
		"[1, 2]\n",
		"---\n---\n",
		"load: {rate: 1, max_calls: 1}\n\"a\\nb\": 1\n",
		"\t",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(fuzzFile, data)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one of a scenario and an error", s, err)
		}
		if err != nil {
			checkErrors(t, err)
			return
		}
		if d := s.Load.TotalDuration(); d < 0 {
			t.Fatalf("accepted scenario lasts %s", d)
		}
		before := s.Describe()
		_ = s.ExpectedCalls()
		if errs := s.Validate(); len(errs) > 0 {
			t.Fatalf("accepted scenario fails to re-validate: %v\ninput:\n%s", Errors(errs), data)
		}
		if after := s.Describe(); after != before {
			t.Fatalf("Describe changed after re-validation:\n%s\n%s", before, after)
		}
	})
}

// checkErrors asserts the shape of Parse's error (see FuzzParse).
func checkErrors(t *testing.T, err error) {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("Parse error %T %q, want a non-empty Errors", err, err)
	}
	prev := 0
	for _, e := range es {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %T %q, want a *FieldError", e, e)
		}
		msg := fe.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Errorf("error %q spans lines", msg)
		}
		if fe.Line <= 0 {
			t.Errorf("error %q has no line", msg)
		}
		if fe.Line < prev {
			t.Errorf("error %q (line %d) comes after line %d", msg, fe.Line, prev)
		}
		prev = fe.Line
		want := fuzzFile + ":" + strconv.Itoa(fe.Line) + ": "
		if fe.Path != "" {
			want += fe.Path + ": "
		}
		if !strings.HasPrefix(msg, want) {
			t.Errorf("error %q, want it to start with %q", msg, want)
		}
	}
}
