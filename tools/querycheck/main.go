// Command querycheck evaluates every PromQL query of the loadgen dashboard
// (deploy/grafana/queries.json) and every recording rule
// (deploy/prometheus/loadgen.rules.yml) against a running Prometheus through
// its HTTP API, and reports which ones return data.
//
//	cd tools && go run ./querycheck -url http://127.0.0.1:9090 \
//	  -queries ../deploy/grafana/queries.json -rules ../deploy/prometheus/loadgen.rules.yml \
//	  [-var run_id=my-run] [-rate-interval 30s] [-range 5m] [-json out.json]
//
// Range queries are evaluated as instant queries at the server's "now"
// (a range query returns data if and only if some instant does; use -time
// to pick the instant). Exit status: 0 when every expression returned data,
// 1 when some returned none (listed), 2 on an error (bad expression,
// unreachable server).
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
	// Series is the number of series returned.
	Series int `json:"series"`
	// Error is the API's error, if any.
	Error string `json:"error,omitempty"`
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

func main() {
	base := flag.String("url", "http://127.0.0.1:9090", "Prometheus base URL")
	queries := flag.String("queries", "../deploy/grafana/queries.json", "the dashboard's query list ('' to skip)")
	rules := flag.String("rules", "../deploy/prometheus/loadgen.rules.yml", "a recording rules file ('' to skip)")
	rateInterval := flag.String("rate-interval", "", "value of $__rate_interval (default: queries.json's)")
	rng := flag.String("range", "", "value of $__range (default: queries.json's)")
	at := flag.String("time", "", "evaluation instant, RFC 3339 or Unix seconds (default: the server's now)")
	jsonOut := flag.String("json", "", "also write the results as JSON to this file")
	overrides := vars{}
	flag.Var(overrides, "var", "set a dashboard variable, NAME=VALUE (repeatable), e.g. run_id=my-run")
	flag.Parse()

	var todo []Result
	if *queries != "" {
		var ql queryList
		if err := readJSON(*queries, &ql); err != nil {
			fail(err)
		}
		v := ql.Variables
		for k, val := range overrides {
			v[k] = val
		}
		if *rateInterval != "" {
			v["__rate_interval"] = *rateInterval
		}
		if *rng != "" {
			v["__range"] = *rng
		}
		for _, q := range ql.Queries {
			todo = append(todo, Result{Name: "dashboard: " + q.Panel + " (" + q.RefID + ")", Expr: expand(q.Expr, v)})
		}
	}
	if *rules != "" {
		data, err := os.ReadFile(*rules)
		if err != nil {
			fail(err)
		}
		var rf rulesFile
		if err := yaml.UnmarshalStrict(data, &rf); err != nil {
			fail(fmt.Errorf("%s: %w", *rules, err))
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					todo = append(todo, Result{Name: "rule: " + r.Record, Expr: r.Expr})
				}
			}
		}
	}

	client := &http.Client{Timeout: 30 * time.Second}
	empty, errs := 0, 0
	for i := range todo {
		r := &todo[i]
		r.Series, r.Error = instant(client, *base, r.Expr, *at)
		status := fmt.Sprintf("%d series", r.Series)
		switch {
		case r.Error != "":
			errs++
			status = "ERROR " + r.Error
		case r.Series == 0:
			empty++
			status = "NO DATA"
		}
		fmt.Printf("%-10s %s\n", status, r.Name)
	}
	if *jsonOut != "" {
		data, _ := json.MarshalIndent(todo, "", "  ")
		if err := os.WriteFile(*jsonOut, append(data, '\n'), 0o644); err != nil {
			fail(err)
		}
	}
	fmt.Printf("querycheck: %d expressions, %d without data, %d errors\n", len(todo), empty, errs)
	switch {
	case errs > 0:
		os.Exit(2)
	case empty > 0:
		os.Exit(1)
	}
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

// instant runs an instant query and counts the series (or samples) returned.
func instant(c *http.Client, base, expr, at string) (int, string) {
	form := url.Values{"query": {expr}}
	if at != "" {
		form.Set("time", at)
	}
	resp, err := c.PostForm(strings.TrimRight(base, "/")+"/api/v1/query", form)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }() // read fully below; closing only releases the connection
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err.Error()
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if r.Status != "success" {
		return 0, r.Error
	}
	if r.Data.ResultType == "scalar" {
		return 1, ""
	}
	return len(r.Data.Result), ""
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
