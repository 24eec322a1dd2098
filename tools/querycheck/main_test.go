package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAllow(t *testing.T) {
	tests := []struct {
		name, in string
		want     []allowEntry
		err      string
	}{
		{"entries with reasons", "# comment\n\ndashboard: A (A)\n  why A\n  and more\nrule: b\n\tbecause\n",
			[]allowEntry{{name: "dashboard: A (A)", reason: "why A and more", line: 3}, {name: "rule: b", reason: "because", line: 6}}, ""},
		{"empty", "# nothing\n", nil, ""},
		{"no reason", "dashboard: A (A)\nrule: b\n  because\n", nil, `line 1: "dashboard: A (A)" has no reason`},
		{"reason first", "  orphan\n", nil, "line 1: a reason before any entry"},
		{"duplicate", "x\n  r\nx\n  r\n", nil, `line 3: "x" is already listed on line 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAllow([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestApplyAllow(t *testing.T) {
	tests := []struct {
		name    string
		allow   []allowEntry
		allowed []bool
		err     string
	}{
		{"marks", []allowEntry{{name: "b", reason: "r", line: 1}}, []bool{false, true}, ""},
		{"unknown", []allowEntry{{name: "c", reason: "r", line: 4}}, []bool{false, false}, `line 4: "c"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := []Result{{Name: "a"}, {Name: "b"}}
			err := applyAllow(rs, tt.allow)
			if (err != nil) != (tt.err != "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			for i, r := range rs {
				if r.Allowed != tt.allowed[i] {
					t.Errorf("%s: allowed %v, want %v", r.Name, r.Allowed, tt.allowed[i])
				}
			}
		})
	}
}

// fakeProm answers query and query_range like Prometheus: "up" has one
// series, "err" is rejected, anything else is empty; it records the
// endpoint and time parameters of the last request.
func fakeProm(t *testing.T, last *[]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		*last = []string{r.URL.Path, r.Form.Get("time"), r.Form.Get("start"), r.Form.Get("end"), r.Form.Get("step")}
		typ := "vector"
		if r.URL.Path == "/api/v1/query_range" {
			typ = "matrix"
		}
		reply := func(body string) {
			if _, err := w.Write([]byte(body)); err != nil {
				t.Error(err)
			}
		}
		switch r.Form.Get("query") {
		case "up":
			reply(`{"status":"success","data":{"resultType":"` + typ + `","result":[{"metric":{}}]}}`)
		case "err":
			w.WriteHeader(http.StatusBadRequest)
			reply(`{"status":"error","errorType":"bad_data","error":"parse error"}`)
		default:
			reply(`{"status":"success","data":{"resultType":"` + typ + `","result":[]}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestEvaluate(t *testing.T) {
	var last []string
	srv := fakeProm(t, &last)
	rangeW := window{at: "20", start: "10", end: "20", step: "1s"}
	tests := []struct {
		name    string
		expr    string
		instant bool
		w       window
		series  int
		err     string
		req     []string
	}{
		{"instant", "up", false, window{at: "5"}, 1, "", []string{"/api/v1/query", "5", "", "", ""}},
		{"range", "up", false, rangeW, 1, "", []string{"/api/v1/query_range", "", "10", "20", "1s"}},
		{"instant in range mode", "up", true, rangeW, 1, "", []string{"/api/v1/query", "20", "", "", ""}},
		{"empty", "nothing", false, rangeW, 0, "", []string{"/api/v1/query_range", "", "10", "20", "1s"}},
		{"rejected", "err", false, rangeW, 0, "parse error", []string{"/api/v1/query_range", "", "10", "20", "1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := evaluate(srv.Client(), srv.URL, tt.expr, tt.instant, tt.w)
			if n != tt.series || err != tt.err {
				t.Errorf("got %d series, error %q; want %d, %q", n, err, tt.series, tt.err)
			}
			if strings.Join(last, "|") != strings.Join(tt.req, "|") {
				t.Errorf("request %q, want %q", last, tt.req)
			}
		})
	}
}

func TestPrintTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, rs []Result) string {
		data, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.json", []Result{{Name: "q1", Series: 2}, {Name: "q2", Allowed: true}, {Name: "q3"}})
	b := write("b.json", []Result{{Name: "q1", Series: 1}, {Name: "q3", Error: "x"}, {Name: "q4", Series: 1}, {Name: "q2", Series: 3, Allowed: true}})
	var out bytes.Buffer
	if err := printTable(&out, []string{"classic=" + a, "native=" + b}); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"expression  classic            native\n" +
		"q1          2                  1\n" +
		"q2          no data (allowed)  3 (allow-listed)\n" +
		"q3          NO DATA            error\n" +
		"q4          -                  1\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if err := printTable(&out, []string{"nolabel"}); err == nil {
		t.Error("a spec without = accepted")
	}
}
