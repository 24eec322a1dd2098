package run

import (
	"fmt"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
)

// callers is what a run places calls with: the signalling client and the
// media engine shared by every call, and the per-call state machine.
type callers struct {
	client *signal.Client
	engine *media.Engine
	caller *call.Caller
}

// newCallers provisions the calls of s against restURL (the embedded
// gateway's, when gw is not nil); prov holds what Check derived.
func newCallers(s *scenario.Scenario, restURL string, gw *gateway.Server, prov provisions, o Options, onSetup func(metrics.CallRecord)) (*callers, error) {
	client, err := signal.NewClient(call.NewSignalConfig(s, restURL, o.Version))
	if err != nil {
		return nil, invalid(err)
	}
	engine, err := media.NewEngine(prov.engine)
	if err != nil {
		_ = client.Close() // closes idle connections only: nothing to report
		return nil, fmt.Errorf("media engine: %w", err)
	}
	ccfg := call.NewConfig(s, prov.key)
	ccfg.Signal, ccfg.Media, ccfg.OnSetup = client, engine, onSetup
	// The embedded gateway plays loadgen's own media back, so what arrives
	// can be checked packet by packet; a real gateway's media is unknown.
	ccfg.CheckIntegrity = gw != nil
	if s.Call.EndedBy == scenario.EndedByGateway && gw != nil {
		g := gw.Gateway()
		ccfg.OnUp = func(sessionID string, hold time.Duration) {
			time.AfterFunc(hold, func() {
				// ErrUnknownSession: the call already ended; nothing to do.
				_ = g.EndCall(sessionID, 0, "Remote party ended the call")
			})
		}
	}
	caller, err := call.NewCaller(ccfg)
	if err != nil {
		_ = engine.Close() // no peer yet
		_ = client.Close() // closes idle connections only: nothing to report
		return nil, fmt.Errorf("build the caller: %w", err)
	}
	return &callers{client: client, engine: engine, caller: caller}, nil
}

// close releases the engine and the client's idle connections.
func (c *callers) close() {
	_ = c.engine.Close() // every peer is closed by its call already
	_ = c.client.Close() // closes idle connections only: nothing to report
}
