package main

import (
	"fmt"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
	"github.com/loadgen/loadgen/internal/token"
)

// callRunner is what `loadgen run` builds to place calls: the signalling
// client and the media engine shared by every call, and the per-call state
// machine.
type callRunner struct {
	client *signal.Client
	engine *media.Engine
	caller *call.Caller
}

// newCallRunner provisions the calls of s against restURL (the embedded
// gateway's, when eg is not nil).
func newCallRunner(s *scenario.Scenario, restURL string, eg *gateway.Server, getenv func(string) string, pionDefaults bool) (*callRunner, error) {
	var key string
	if s.Mode == scenario.ModeToken && s.Token != nil {
		k, err := s.Token.Key(getenv)
		if err != nil {
			return nil, usageError(err)
		}
		if err := token.CheckKey(k); err != nil {
			return nil, usageErrorf("token key in %s: %v", s.Token.KeyEnv, err)
		}
		key = k
	}
	client, err := signal.NewClient(call.NewSignalConfig(s, restURL, version))
	if err != nil {
		return nil, usageError(err)
	}
	ecfg, err := call.NewEngineConfig(s)
	if err != nil {
		client.Close()
		return nil, usageError(err)
	}
	ecfg.PionDefaults = pionDefaults
	engine, err := media.NewEngine(ecfg)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("media engine: %w", err)
	}
	ccfg := call.NewConfig(s, key)
	ccfg.Signal, ccfg.Media = client, engine
	// The embedded gateway plays loadgen's own media back, so what arrives
	// can be checked packet by packet; a real gateway's media is unknown.
	ccfg.CheckIntegrity = eg != nil
	if s.Call.EndedBy == scenario.EndedByGateway {
		if eg == nil {
			engine.Close()
			client.Close()
			return nil, usageErrorf("call.ended_by: gateway needs the embedded gateway (no target)")
		}
		gw := eg.Gateway()
		ccfg.OnUp = func(sessionID string, hold time.Duration) {
			time.AfterFunc(hold, func() {
				// ErrUnknownSession: the call already ended; nothing to do.
				_ = gw.EndCall(sessionID, 0, "Remote party ended the call")
			})
		}
	}
	caller, err := call.NewCaller(ccfg)
	if err != nil {
		engine.Close()
		client.Close()
		return nil, err
	}
	return &callRunner{client: client, engine: engine, caller: caller}, nil
}

// close releases the engine and the client's idle connections.
func (r *callRunner) close() {
	r.engine.Close()
	r.client.Close()
}
