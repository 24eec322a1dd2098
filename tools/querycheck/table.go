package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// printTable prints the -json results named by specs (LABEL=FILE each) side
// by side: one row per expression in the first file's order, one column per
// label, each cell the number of series (marked when the allow-list names an
// expression that returned data), "NO DATA", "no data (allowed)", "error" or
// "-" (not evaluated there).
func printTable(w io.Writer, specs []string) error {
	labels := make([]string, 0, len(specs))
	cells := make([]map[string]string, 0, len(specs))
	var order []string
	seen := map[string]bool{}
	for _, spec := range specs {
		label, file, ok := strings.Cut(spec, "=")
		if !ok || label == "" || file == "" {
			return fmt.Errorf("-table %q: want LABEL=FILE", spec)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var results []Result
		if err := json.Unmarshal(data, &results); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		col := make(map[string]string, len(results))
		for _, r := range results {
			col[r.Name] = cell(r)
			if !seen[r.Name] {
				seen[r.Name] = true
				order = append(order, r.Name)
			}
		}
		labels = append(labels, label)
		cells = append(cells, col)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := fmt.Fprintf(tw, "expression\t%s\n", strings.Join(labels, "\t")); err != nil {
		return err
	}
	for _, name := range order {
		row := make([]string, len(cells))
		for i, col := range cells {
			row[i] = col[name]
			if row[i] == "" {
				row[i] = "-"
			}
		}
		if _, err := fmt.Fprintf(tw, "%s\t%s\n", name, strings.Join(row, "\t")); err != nil {
			return err
		}
	}
	return tw.Flush()
}

func cell(r Result) string {
	switch {
	case r.Error != "":
		return "error"
	case r.Series == 0 && r.Allowed:
		return "no data (allowed)"
	case r.Series == 0:
		return "NO DATA"
	case r.Allowed:
		return fmt.Sprintf("%d (allow-listed)", r.Series)
	default:
		return fmt.Sprint(r.Series)
	}
}
