// Package e2e holds end-to-end tests of the anonymous-call protocol: real
// calls placed by the signalling client (internal/signal) against the
// built-in gateway (internal/gateway) served by a loopback HTTP server, with
// real websockets and real pion peers (internal/media) on both sides, in
// regular and token mode. It has no non-test code.
package e2e
