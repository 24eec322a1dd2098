// Command querycheck evaluates every PromQL query of the loadgen dashboard
// (deploy/grafana/queries.json) and every recording rule
// (deploy/prometheus/loadgen.rules.yml) against a running Prometheus through
// its HTTP API, and reports which ones return data.
//
//	cd tools && go run ./querycheck -url http://127.0.0.1:9090 \
//	  -queries ../deploy/grafana/queries.json -rules ../deploy/prometheus/loadgen.rules.yml \
//	  [-var run_id=my-run] [-rate-interval 30s] [-range 5m] \
//	  [-start T0 -end T1 [-step 2s]] [-recorded] [-allow ../deploy/grafana/live-allowlist.txt] \
//	  [-json out.json]
//
// Without -start, every expression is evaluated as an instant query at -time
// (default: the server's now). With -start, the dashboard's time-series
// queries and the rules' expressions are evaluated as range queries over
// [-start, -end], as Grafana draws them: an expression returns data when
// some instant of the range does. The dashboard's instant queries (tables,
// stats marked instant) are evaluated at -time, default -end.
//
// -recorded also checks what the server itself did with the rule files it
// loaded: every recorded series exists (as "recorded: NAME") and no rule
// reports an error in /api/v1/rules.
//
// -allow names expressions that may return no data (see readAllow for the
// format); an entry that names no expression is an error, so the list
// cannot rot when a panel is renamed.
//
// Exit status: 0 when every expression returned data or is allowed not to,
// 1 when some other one returned none (listed), 2 on an error (a rejected
// expression, an unreachable server, a rule in error, a bad allow-list).
//
// -table LABEL=FILE (repeatable) prints the -json results of earlier runs
// side by side, one column per server, and exits.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// queryList is deploy/grafana/queries.json.
type queryList struct {
	Variables map[string]string `json:"variables"`
	Queries   []struct {
		Panel   string `json:"panel"`
		RefID   string `json:"refId"`
		Instant bool   `json:"instant"`
		Expr    string `json:"expr"`
	} `json:"queries"`
}

// rulesFile is a Prometheus rules file (the recording rules only).
type rulesFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Record string `json:"record"`
			Alert  string `json:"alert"`
			Expr   string `json:"expr"`
		} `json:"rules"`
	} `json:"groups"`
}

// Result is one evaluated expression.
type Result struct {
	// Name says where the expression comes from (panel/refId or rule).
	Name string `json:"name"`
	// Expr is the expression as sent.
	Expr string `json:"expr"`
	// Instant is set when the expression was evaluated at one instant even
	// in range mode (a table or stat panel's instant query).
	Instant bool `json:"instant,omitempty"`
	// Series is the number of series returned.
	Series int `json:"series"`
	// Error is the API's error, if any.
	Error string `json:"error,omitempty"`
	// Allowed is set when the allow-list names this expression.
	Allowed bool `json:"allowed,omitempty"`
	// Reason is the allow-list's reason.
	Reason string `json:"reason,omitempty"`
}

type vars map[string]string

func (v vars) String() string { return fmt.Sprint(map[string]string(v)) }
func (v vars) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want NAME=VALUE")
	}
	v[k] = val
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// window is where and how expressions are evaluated.
type window struct {
	at         string // instant queries (and everything without start)
	start, end string // range mode when start != ""
	step       string
}

func main() {
	base := flag.String("url", "http://127.0.0.1:9090", "Prometheus base URL")
	queries := flag.String("queries", "../deploy/grafana/queries.json", "the dashboard's query list ('' to skip)")
	rules := flag.String("rules", "../deploy/prometheus/loadgen.rules.yml", "a recording rules file ('' to skip)")
	rateInterval := flag.String("rate-interval", "", "value of $__rate_interval (default: queries.json's)")
	rng := flag.String("range", "", "value of $__range (default: queries.json's)")
	at := flag.String("time", "", "instant of the instant queries, RFC 3339 or Unix seconds (default: -end, else the server's now)")
	start := flag.String("start", "", "range mode: evaluate the time-series queries and the rules over [start, end] (RFC 3339 or Unix seconds)")
	end := flag.String("end", "", "range mode: end of the range (default: now)")
	step := flag.String("step", "2s", "range mode: resolution step")
	recorded := flag.Bool("recorded", false, "also check that every recorded series exists and no rule is in error on the server")
	allowFile := flag.String("allow", "", "allow-list of expressions that may return no data")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	var tables list
	flag.Var(&tables, "table", "LABEL=FILE: print earlier -json results side by side and exit (repeatable)")
	overrides := vars{}
	flag.Var(overrides, "var", "set a dashboard variable, NAME=VALUE (repeatable), e.g. run_id=my-run")
	flag.Parse()

	if len(tables) > 0 {
		if err := printTable(os.Stdout, tables); err != nil {
			fail(err)
		}
		return
	}

	w := window{at: *at, start: *start, end: *end, step: *step}
	if w.start != "" {
		if w.end == "" {
			w.end = fmt.Sprint(time.Now().Unix())
		}
		if w.at == "" {
			w.at = w.end
		}
	}

	todo, err := collect(sources{
		queries: *queries, rules: *rules, allow: *allowFile, recorded: *recorded,
		vars: overrides, rateInterval: *rateInterval, rng: *rng,
	})
	if err != nil {
		fail(err)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	if *recorded {
		if bad, err := ruleHealth(client, *base); err != nil {
			fail(err)
		} else if len(bad) > 0 {
			for _, b := range bad {
				fmt.Println("ERROR rule health:", b)
			}
			fail(fmt.Errorf("%d rules in error on the server", len(bad)))
		}
	}
	n := check(client, *base, todo, w)
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(todo, "", "  ")
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Printf("querycheck: %d expressions, %d without data (%d of them allowed), %d errors", len(todo), n.missing+n.allowedEmpty, n.allowedEmpty, n.errs)
	if n.stale > 0 {
		fmt.Printf("; %d allow-listed ones returned data", n.stale)
	}
	fmt.Println()
	switch {
	case n.errs > 0:
		os.Exit(2)
	case n.missing > 0:
		os.Exit(1)
	}
}

// sources are where the expressions to check come from.
type sources struct {
	queries, rules, allow string // files ("": none)
	recorded              bool   // also check each recorded series
	vars                  vars   // dashboard variable overrides
	rateInterval, rng     string // $__rate_interval and $__range ("": queries.json's)
}

// collect lists the expressions to check: the dashboard's queries with
// their variables expanded, the recording rules (and, with recorded, the
// series they record), marked by the allow-list.
func collect(src sources) ([]Result, error) {
	var todo []Result
	var records []string
	if src.queries != "" {
		var ql queryList
		if err := readJSON(src.queries, &ql); err != nil {
			return nil, err
		}
		v := ql.Variables
		for k, val := range src.vars {
			v[k] = val
		}
		if src.rateInterval != "" {
			v["__rate_interval"] = src.rateInterval
		}
		if src.rng != "" {
			v["__range"] = src.rng
		}
		for _, q := range ql.Queries {
			todo = append(todo, Result{Name: "dashboard: " + q.Panel + " (" + q.RefID + ")", Expr: expand(q.Expr, v), Instant: q.Instant})
		}
	}
	if src.rules != "" {
		data, err := os.ReadFile(src.rules)
		if err != nil {
			return nil, err
		}
		var rf rulesFile
		if err := yaml.UnmarshalStrict(data, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", src.rules, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					todo = append(todo, Result{Name: "rule: " + r.Record, Expr: r.Expr})
					records = append(records, r.Record)
				}
			}
		}
	}
	if src.recorded {
		for _, name := range records {
			todo = append(todo, Result{Name: "recorded: " + name, Expr: name})
		}
	}
	if src.allow != "" {
		allow, err := readAllow(src.allow)
		if err != nil {
			return nil, err
		}
		if err := applyAllow(todo, allow); err != nil {
			return nil, fmt.Errorf("%s: %w", src.allow, err)
		}
	}
	return todo, nil
}

// counts are check's tallies.
type counts struct {
	missing, allowedEmpty, stale, errs int
}

// check evaluates every expression in w, fills in its result and prints a
// line for it.
func check(client *http.Client, base string, todo []Result, w window) counts {
	var n counts
	for i := range todo {
		r := &todo[i]
		r.Series, r.Error = evaluate(client, base, r.Expr, r.Instant, w)
		status := fmt.Sprintf("%d series", r.Series)
		switch {
		case r.Error != "":
			n.errs++
			status = "ERROR " + r.Error
		case r.Series == 0 && r.Allowed:
			n.allowedEmpty++
			status = "no data (allowed)"
		case r.Series == 0:
			n.missing++
			status = "NO DATA"
		case r.Allowed:
			n.stale++
			status += " (allow-listed: remove the entry?)"
		}
		fmt.Printf("%-10s %s\n", status, r.Name)
	}
	return n
}

// expand replaces $name and ${name} with v's values, longest names first.
func expand(expr string, v map[string]string) string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return len(names[i]) > len(names[j]) })
	for _, k := range names {
		expr = strings.ReplaceAll(expr, "${"+k+"}", v[k])
		expr = strings.ReplaceAll(expr, "$"+k, v[k])
	}
	return expr
}

// evaluate runs expr as a range query over w in range mode, else (or when
// instant) as an instant query at w.at, and counts the series returned (a
// range query returns only the series with at least one point).
func evaluate(c *http.Client, base, expr string, instant bool, w window) (int, string) {
	form := url.Values{"query": {expr}}
	endpoint := "/api/v1/query"
	if w.start != "" && !instant {
		endpoint = "/api/v1/query_range"
		form.Set("start", w.start)
		form.Set("end", w.end)
		form.Set("step", w.step)
	} else if w.at != "" {
		form.Set("time", w.at)
	}
	var data struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	}
	if err := call(c, base, endpoint, form, &data); err != "" {
		return 0, err
	}
	if data.ResultType == "scalar" {
		return 1, ""
	}
	return len(data.Result), ""
}

// ruleHealth lists the rules the server reports in error.
func ruleHealth(c *http.Client, base string) ([]string, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			File  string `json:"file"`
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := call(c, base, "/api/v1/rules", nil, &data); err != "" {
		return nil, fmt.Errorf("/api/v1/rules: %s", err)
	}
	if len(data.Groups) == 0 {
		return nil, fmt.Errorf("/api/v1/rules: the server loaded no rule groups")
	}
	var bad []string
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				bad = append(bad, fmt.Sprintf("%s/%s: %s", g.Name, r.Name, r.LastError))
			}
		}
	}
	return bad, nil
}

// call POSTs form to the API endpoint (GET when form is nil) and decodes
// the envelope's data into v; it returns an error message, "" on success.
func call(c *http.Client, base, endpoint string, form url.Values, v any) string {
	u := strings.TrimRight(base, "/") + endpoint
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = c.Get(u)
	} else {
		resp, err = c.PostForm(u, form)
	}
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }() // read fully below; closing only releases the connection
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if r.Status != "success" {
		return r.Error
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Sprintf("decode %s: %v", endpoint, err)
	}
	return ""
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "querycheck:", err)
	os.Exit(2)
}
