// Command dashboard generates loadgen's Grafana dashboard
// (deploy/grafana/loadgen.json) and the list of its PromQL queries
// (deploy/grafana/queries.json) from code, with Grafana's typed builder
// (github.com/grafana/grafana-foundation-sdk/go, Apache-2.0).
//
//	cd tools && go run ./dashboard -out ../deploy/grafana
//
// The queries use the metric names of PLAN.md ("Prometheus names after
// issue 12") and work on a Prometheus that scrapes classic histograms and on
// one that scrapes native histograms (where Prometheus 2.42 hides the classic
// buckets): see quantile and heatmapQuery.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "../deploy/grafana", "directory to write loadgen.json and queries.json into")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

// write renders the dashboard and its query list into dir.
func write(dir string) error {
	files, err := render()
	if err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
