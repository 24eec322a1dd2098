// Command loadgen is a headless load generator for WebRTC calling gateways:
// it places synthetic anonymous calls with real signalling and real media,
// measures every phase of every call, and ships a Kandy-compatible gateway
// so a scenario runs out of the box.
//
// Usage:
//
//	loadgen run scenarios/peak.yaml
//	loadgen serve --listen 127.0.0.1:8080
//	loadgen validate scenarios/*.yaml
//	loadgen tokens --realm R --account A --caller C --callee D
//	loadgen report results/
//
// Exit codes (precedence 2 > 1 > 105 > 100 > 99 when several apply):
// 0 ok, 1 the tool itself failed, 2 invalid scenario or usage, 99 thresholds
// crossed, 100 the run is invalid (the generator was the bottleneck), 105
// interrupted by SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/loadgen/loadgen/internal/gateway"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes, documented in --help and the README.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitThresholds  = 99
	exitInvalid     = 100
	exitInterrupted = 105
)

// exitMeanings says what each exit code means, for --help.
var exitMeanings = map[int]string{
	exitOK:          "ok",
	exitFailure:     "the tool itself failed (cannot listen, cannot write results, ...)",
	exitUsage:       "usage error or invalid scenario",
	exitThresholds:  "thresholds crossed",
	exitInvalid:     "the run is invalid: the generator itself was the bottleneck, so the numbers describe it and not the system under test",
	exitInterrupted: "interrupted by SIGINT or SIGTERM (as k6's external abort)",
}

// exitError attaches an exit code to an error, so commands return errors and
// only main turns them into a process exit.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks err as a usage or validation problem (exit 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// usageErrorf formats a usage error.
func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitFailure
}

// env is the process environment handed to commands: the only place the os
// package's globals are read, so commands run in-process in tests.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether stderr is a terminal (live progress line).
	isTerminal bool
	// termWidth returns the terminal's width in columns (nil or 0: 80).
	termWidth func() int
	// interrupts delivers SIGINT/SIGTERM; nil in tests that never interrupt.
	interrupts <-chan os.Signal
	// exit ends the process at once (the second Ctrl-C); nil in tests.
	exit func(code int)
	// gatewayStarted and gatewayStopping, when set, see the embedded
	// gateway after it starts and its counters just before it stops
	// (tests check that a run leaves no session behind).
	gatewayStarted  func(*gateway.Gateway)
	gatewayStopping func(gateway.Stats)
}

// command is one subcommand: its flags and the function that runs it.
type command struct {
	summary string
	usage   string
	// exitCodes are the codes the command can return (nil: 0, 1 and 2).
	exitCodes []int
	flags     func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"run":      runCommand(),
		"serve":    serveCommand(),
		"validate": validateCommand(),
		"tokens":   tokensCommand(),
		"report":   reportCommand(),
		"merge":    mergeCommand(),
		"bench":    benchCommand(),
		"version": {
			summary:   "print the version",
			usage:     "loadgen version",
			exitCodes: []int{exitOK},
			flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
				return func(_ context.Context, e *env, _ []string) error {
					fmt.Fprintf(e.stdout, "loadgen %s\n", version)
					return nil
				}
			},
		},
	}
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// A closed stdout (loadgen run ... | head -1) must not kill the run
	// before its result files are written: writes then fail with EPIPE.
	signal.Ignore(syscall.SIGPIPE)
	e := &env{
		stdout:     os.Stdout,
		stderr:     os.Stderr,
		getenv:     os.Getenv,
		isTerminal: isTerminal(os.Stderr),
		termWidth:  func() int { return terminalWidth(os.Stderr) },
		interrupts: sigs,
		exit:       os.Exit,
	}
	code := runMain(context.Background(), e, os.Args[1:])
	os.Exit(code)
}

// runMain dispatches to a subcommand and returns the exit code.
func runMain(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		printUsage(e.stderr, cmds)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout, cmds)
		return exitOK
	}
	if args[0] == "-version" || args[0] == "--version" {
		fmt.Fprintf(e.stdout, "loadgen %s\n", version)
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "loadgen: unknown command %q\n\n", args[0])
		printUsage(e.stderr, cmds)
		return exitUsage
	}
	fs := flag.NewFlagSet("loadgen "+args[0], flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fn := c.flags(fs)
	fs.Usage = func() {} // help goes to stdout, below; errors to stderr
	positional, err := parseInterleaved(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stdout, "Usage: %s\n\n%s\n", c.usage, c.summary)
		if hasFlags(fs) {
			fmt.Fprintln(e.stdout, "\nFlags:")
			fs.SetOutput(e.stdout)
			fs.PrintDefaults()
		}
		fmt.Fprint(e.stdout, exitCodesHelp(c.exitCodes))
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "Run 'loadgen %s -h' for its flags.\n", args[0])
		return exitUsage
	}
	err = fn(ctx, e, positional)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stderr, "loadgen %s: %v\n", args[0], err)
	}
	return exitCode(err)
}

// parseInterleaved parses flags anywhere among the positional arguments
// (`loadgen run scenarios/peak.yaml --out results` works, as cobra and k6
// users expect) and returns the positional ones; after "--" everything is
// positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitCodesHelp lists the exit codes a command can return (nil: 0, 1, 2),
// with the precedence when several apply.
func exitCodesHelp(codes []int) string {
	if codes == nil {
		codes = []int{exitOK, exitFailure, exitUsage}
	}
	var b strings.Builder
	b.WriteString("\nExit codes:\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %-3d %s\n", c, exitMeanings[c])
	}
	if len(codes) > 3 {
		// The precedence, of this command's codes only.
		var order []string
		for _, c := range []int{exitUsage, exitFailure, exitInterrupted, exitInvalid, exitThresholds} {
			if slices.Contains(codes, c) {
				order = append(order, strconv.Itoa(c))
			}
		}
		b.WriteString("When several apply: " + strings.Join(order, " > ") + ".\n")
	}
	return b.String()
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintf(w, "loadgen %s: a load generator for WebRTC anonymous-call gateways\n\nUsage:\n", version)
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'loadgen <command> -h' for a command's flags.\n")
	fmt.Fprint(w, exitCodesHelp([]int{exitOK, exitFailure, exitUsage, exitThresholds, exitInvalid, exitInterrupted}))
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
