package main

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestArchitecture keeps the README's package table and the code telling
// the same story: every package in internal/ has a row, and each imports
// only what its row's "may import" column allows (loadgen packages by their
// last path element; external modules by name; golang.org/x is treated as
// the standard library's extension).
func TestArchitecture(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "| package | its one job | may import |")
	if start < 0 {
		t.Fatal("README has no package table with a may-import column")
	}
	rowRE := regexp.MustCompile("^\\| `([^`]+)` \\| [^|]+ \\| ([^|]+) \\|$")
	type row struct{ pkg, allow string }
	var rows []row
	for _, l := range strings.Split(readme[start:], "\n")[2:] {
		m := rowRE.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			break
		}
		rows = append(rows, row{strings.TrimSuffix(m[1], "/"), strings.TrimSpace(m[2])})
	}
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.pkg] = true
	}
	// Every package of the module (but tests-only ones) has a row.
	err = filepath.WalkDir("../../internal", func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pkg, err := build.ImportDir(p, 0)
		if err != nil || len(pkg.GoFiles) == 0 {
			return nil //nolint:nilerr // a directory without non-test Go files is not a package to list
		}
		rel, _ := filepath.Rel("../..", p)
		if !listed[rel] && !strings.HasSuffix(rel, "test") {
			t.Errorf("README's package table has no row for %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/loadgen/loadgen/"
	external := map[string]string{
		"pion": "github.com/pion/", "yaml": "gopkg.in/yaml", "hdrhistogram": "github.com/HdrHistogram/",
		"client_golang": "github.com/prometheus/", "gorilla": "github.com/gorilla/",
	}
	for i, r := range rows {
		if !strings.HasPrefix(r.pkg, "internal/") && r.pkg != "cmd/loadgen" {
			continue
		}
		pkg, err := build.ImportDir(filepath.Join("../..", r.pkg), 0)
		if err != nil {
			t.Errorf("%s: %v", r.pkg, err)
			continue
		}
		below := map[string]bool{}
		for _, rr := range rows[i+1:] {
			below[rr.pkg] = true
		}
		allowAll := strings.Contains(r.allow, "below")
		tokens := map[string]bool{}
		for _, tok := range strings.FieldsFunc(r.allow, func(c rune) bool { return c == ',' || c == ' ' || c == '(' || c == ')' }) {
			tokens[tok] = true
		}
		for _, imp := range pkg.Imports {
			if imp == mod+"internal/testrig" {
				t.Errorf("%s imports internal/testrig, which only tests may import", r.pkg)
			}
			switch {
			case strings.HasPrefix(imp, mod):
				dep := strings.TrimPrefix(imp, mod)
				short := dep[strings.LastIndex(dep, "/")+1:]
				if (!allowAll || !below[dep]) && !tokens[short] {
					t.Errorf("%s imports %s, which its README row does not allow (%q)", r.pkg, dep, r.allow)
				}
			case !strings.Contains(strings.Split(imp, "/")[0], "."), strings.HasPrefix(imp, "golang.org/x/"):
				// the standard library
			default:
				ok := allowAll
				for name, prefix := range external {
					if strings.HasPrefix(imp, prefix) && tokens[name] {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s, which its README row does not allow (%q)", r.pkg, imp, r.allow)
				}
			}
		}
	}
}
