// Package worker is the load engine: pacers decide when calls start (open
// model), the scheduler hands each start to a bounded pool without ever
// blocking on it (a start that finds the pool full is counted as dropped, not
// queued), the pool runs one synchronous call per goroutine, and shutdown
// happens in two stages driven by contexts: arrivals stop, then in-flight
// calls get a grace period to end properly before their contexts are
// cancelled.
//
// The call itself is behind CallFunc, so the scheduler and the pool know
// nothing of signalling or media.
package worker
