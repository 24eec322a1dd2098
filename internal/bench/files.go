package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultJSONPath is bench/results/<date>-<host>[-quick].json, with -2,
// -3, ... when that file exists already.
func DefaultJSONPath(date time.Time, host string, quick bool) string {
	if host == "" {
		host = "unknown"
	}
	base := date.UTC().Format("2006-01-02") + "-" + host
	if quick {
		base += "-quick"
	}
	path := filepath.Join("bench", "results", base+".json")
	for i := 2; ; i++ {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return path
		}
		path = filepath.Join("bench", "results", base+"-"+strconv.Itoa(i)+".json")
	}
}

// WriteJSONFile writes r to path, creating its directory.
func (r *Result) WriteJSONFile(path string) (retErr error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	defer func() {
		if err := out.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("write results: %w", err)
		}
	}()
	return r.WriteJSON(out)
}

// JoinFloats formats or parses a comma-separated list of a ladder flag.
func JoinFloats(v []float64) string {
	s := make([]string, len(v))
	for i, f := range v {
		s[i] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// JoinInts formats or parses a comma-separated list of a ladder flag.
func JoinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// ParseFloats formats or parses a comma-separated list of a ladder flag.
func ParseFloats(s string) ([]float64, error) {
	var out []float64
	for _, p := range splitList(s) {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", p)
		}
		out = append(out, f)
	}
	return out, nil
}

// ParseInts formats or parses a comma-separated list of a ladder flag.
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("bad count %q", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
