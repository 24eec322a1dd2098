package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// allowEntry is one expression allowed to return no data, and why.
type allowEntry struct {
	name   string
	reason string
	line   int
}

// readAllow reads an allow-list file: an entry is a line naming an
// expression exactly as querycheck prints it (for example
// "dashboard: Packet loss ratio per direction (A)" or "rule: run:x:rate1m"),
// followed by one or more indented lines giving the reason, which is
// required. Blank lines and lines starting with # are ignored.
func readAllow(path string) ([]allowEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	entries, err := parseAllow(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return entries, nil
}

func parseAllow(data []byte) ([]allowEntry, error) {
	var entries []allowEntry
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if len(entries) == 0 {
				return nil, fmt.Errorf("line %d: a reason before any entry", n)
			}
			e := &entries[len(entries)-1]
			e.reason = strings.TrimSpace(e.reason + " " + trimmed)
		default:
			if prev, dup := seen[trimmed]; dup {
				return nil, fmt.Errorf("line %d: %q is already listed on line %d", n, trimmed, prev)
			}
			seen[trimmed] = n
			entries = append(entries, allowEntry{name: trimmed, line: n})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.reason == "" {
			return nil, fmt.Errorf("line %d: %q has no reason (indent it on the next line)", e.line, e.name)
		}
	}
	return entries, nil
}

// applyAllow marks the results the allow-list names; an entry that names
// no result is an error (a renamed panel or rule leaves a stale entry).
func applyAllow(results []Result, allow []allowEntry) error {
	index := make(map[string][]int, len(results))
	for i, r := range results {
		index[r.Name] = append(index[r.Name], i)
	}
	var unknown []string
	for _, e := range allow {
		is, ok := index[e.name]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("line %d: %q", e.line, e.name))
			continue
		}
		for _, i := range is {
			results[i].Allowed = true
			results[i].Reason = e.reason
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("entries that name no expression: %s", strings.Join(unknown, "; "))
	}
	return nil
}
