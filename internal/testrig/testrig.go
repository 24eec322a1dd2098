// Package testrig builds the loopback rig the integration tests share: the
// built-in gateway behind an httptest server on 127.0.0.1, answering with
// real pion peers from a media engine, and signalling clients for it.
//
// It is for tests only: only _test.go files import it (TestArchitecture in
// cmd/loadgen checks that no other package does). It imports gateway, so
// gateway's own package-internal tests cannot use it; they keep their
// harness, which needs the gateway's unexported state.
package testrig

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/signal"
)

// ShutdownLimit bounds the gateway's shutdown at the end of a test.
const ShutdownLimit = 10 * time.Second

// LoopbackEngineConfig is a media engine on 127.0.0.1 (loopback
// candidates included) with ICE timers short enough for tests.
func LoopbackEngineConfig() media.EngineConfig {
	return media.EngineConfig{
		IncludeLoopback:        true,
		IPs:                    []string{"127.0.0.1"},
		ICEDisconnectedTimeout: 2 * time.Second,
		ICEFailedTimeout:       3 * time.Second,
		ICEKeepalive:           500 * time.Millisecond,
	}
}

// NewEngine builds a media engine from cfg, closed at the end of the test
// (a Close error fails it).
func NewEngine(t testing.TB, cfg media.EngineConfig) *media.Engine {
	t.Helper()
	e, err := media.NewEngine(cfg)
	if err != nil {
		t.Fatalf("media.NewEngine: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("media engine Close: %v", err)
		}
	})
	return e
}

// Options configure a Rig. The zero value is gateway.DefaultConfig
// answering from a new loopback engine.
type Options struct {
	// Engine makes the gateway's answerers (nil: NewEngine with
	// LoopbackEngineConfig). The caller owns an engine it passes.
	Engine *media.Engine
	// Gateway adjusts the gateway's configuration (delays, mode, realms,
	// faults).
	Gateway func(*gateway.Config)
	// Wrap, when set, wraps the gateway's handler (to record requests, for
	// example).
	Wrap func(http.Handler) http.Handler
	// OnAnswerer sees every answerer the gateway makes.
	OnAnswerer func(*media.Peer)
}

// Rig is a running gateway on loopback. Everything is torn down at the
// end of the test: the gateway shuts down (an error fails the test), then
// the server closes.
type Rig struct {
	// Gateway is the running gateway.
	Gateway *gateway.Gateway
	// Server serves the gateway on 127.0.0.1.
	Server *httptest.Server
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
	// Engine makes the gateway's answerers.
	Engine *media.Engine

	t testing.TB
}

// New starts a gateway configured by o behind an httptest server.
func New(t testing.TB, o Options) *Rig {
	t.Helper()
	eng := o.Engine
	if eng == nil {
		eng = NewEngine(t, LoopbackEngineConfig())
	}
	cfg := gateway.DefaultConfig()
	cfg.NewAnswerer = func() (gateway.Answerer, error) {
		p, err := eng.NewAnswerer(media.PeerOptions{Video: true})
		if err == nil && o.OnAnswerer != nil {
			o.OnAnswerer(p)
		}
		return p, err
	}
	if o.Gateway != nil {
		o.Gateway(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	var h http.Handler = gw
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownLimit)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway Shutdown: %v", err)
		}
		srv.Close()
	})
	return &Rig{Gateway: gw, Server: srv, URL: srv.URL, Engine: eng, t: t}
}

// NewClient builds a signalling client from cfg (BaseURL "": the rig's),
// closed at the end of the test.
func (r *Rig) NewClient(cfg signal.Config) *signal.Client {
	r.t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = r.URL
	}
	c, err := signal.NewClient(cfg)
	if err != nil {
		r.t.Fatalf("signal.NewClient: %v", err)
	}
	r.t.Cleanup(func() { _ = c.Close() }) // closes idle connections only
	return c
}

// WaitClean fails the test unless the gateway holds no session and no
// subscription within limit (it polls).
func (r *Rig) WaitClean(limit time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := r.Gateway.Stats()
		if st.Sessions == 0 && st.Subscriptions == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("gateway still has %d sessions and %d subscriptions", st.Sessions, st.Subscriptions)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Answerers records the answerers a gateway makes; its Add is an
// Options.OnAnswerer.
type Answerers struct {
	mu    sync.Mutex
	peers []*media.Peer
}

// Add records p.
func (a *Answerers) Add(p *media.Peer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.peers = append(a.peers, p)
}

// All returns the answerers recorded so far, oldest first.
func (a *Answerers) All() []*media.Peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*media.Peer(nil), a.peers...)
}
