// Package run owns one run of a scenario: it builds the run from a validated
// scenario and options (the embedded gateway when the scenario names no
// target, the signalling client and media engine, the per-call state
// machine, the load engine, the recorder and the outputs), executes it (live
// progress, the threshold watch, interrupts, grace) and returns its result
// with the exit status it calls for. cmd/loadgen only parses flags and maps
// the result to an exit code.
package run
