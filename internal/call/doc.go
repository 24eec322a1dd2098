// Package call is the per-call state machine: one synchronous Run places a
// call through subscribe, websocket, callStart, ringing, answer, ICE, DTLS,
// first media, hold (with mid-call holds), end and unsubscribe, times every
// phase, and classifies a failure by its phase and a reason from a closed set
// (metrics.Reason). It joins the signalling client (internal/signal), the
// media engine (internal/media) and token credentials (internal/token); the
// load engine (internal/worker) knows nothing of it.
package call
