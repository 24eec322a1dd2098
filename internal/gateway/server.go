package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/loadgen/loadgen/internal/media"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerConfig configures Listen: a Gateway with its own media engine,
// served over HTTP(S) on a listener.
type ServerConfig struct {
	// Gateway configures the gateway (start from DefaultConfig). A nil
	// NewAnswerer answers every call with the media engine's peer, video on;
	// token-mode keys come in Gateway.Realms (Listen reads no environment).
	Gateway Config
	// Listen is the address to serve on; port 0 picks a free port.
	Listen string
	// TLSCertFile and TLSKeyFile, both set, serve https and wss with that
	// certificate and private key (PEM files).
	TLSCertFile, TLSKeyFile string
	// MediaPortMin and MediaPortMax bound the answerers' UDP ports (0: any).
	MediaPortMin, MediaPortMax uint16
	// MediaIPs are the local addresses media candidates are gathered on;
	// empty means the Listen host when it is a specific IP, else all.
	MediaIPs []string
	// MetricsListen, when set, serves the gateway's metrics on this
	// address's /metrics, from Gateway.Registerer when that is a
	// *prometheus.Registry and from a new registry otherwise.
	MetricsListen string
	// Transport answers calls on loadgen's own media transport (a socket
	// per call, protocol work done in place; host candidates only)
	// instead of pion peers. Off by default: pion is what browsers were
	// checked against.
	Transport bool
}

// Server is a Gateway served on a listener with its media engine. Create it
// with Listen and stop it with Close.
type Server struct {
	gw     *Gateway
	engine *media.Engine
	srv    *http.Server
	url    string
	wsURL  string
	done   chan struct{} // closed when srv.Serve returns
	err    error         // srv.Serve's error; read after done

	metricsSrv  *http.Server
	metricsURL  string
	metricsDone chan struct{}
}

// Listen starts the media engine and the gateway and serves the gateway on
// cfg.Listen (and its metrics on cfg.MetricsListen) until Close.
func Listen(cfg ServerConfig) (_ *Server, err error) {
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	if cfg.MediaPortMin > cfg.MediaPortMax {
		return nil, fmt.Errorf("%w: media port range %d-%d", ErrInvalidConfig, cfg.MediaPortMin, cfg.MediaPortMax)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", cfg.Listen, err)
	}
	// The cleanups run only after a failed setup, whose error is the one
	// returned; a close error on that path adds nothing.
	cleanup = append(cleanup, func() { _ = ln.Close() })
	engine, err := media.NewEngine(media.EngineConfig{
		PortMin:         cfg.MediaPortMin,
		PortMax:         cfg.MediaPortMax,
		IncludeLoopback: true,
		IPs:             mediaIPs(cfg.MediaIPs, ln.Addr()),
		Transport:       cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: media engine: %w", err)
	}
	cleanup = append(cleanup, func() { _ = engine.Close() })
	gcfg := cfg.Gateway
	if gcfg.NewAnswerer == nil {
		gcfg.NewAnswerer = func() (Answerer, error) { return engine.NewAnswerer(media.PeerOptions{Video: true}) }
		if cfg.Transport {
			gcfg.NewAnswerer = func() (Answerer, error) { return engine.NewAnswerPeer(media.PeerOptions{Video: true}) }
		}
	}
	var reg *prometheus.Registry
	if cfg.MetricsListen != "" {
		if r, ok := gcfg.Registerer.(*prometheus.Registry); ok {
			reg = r
		} else if gcfg.Registerer == nil {
			reg = prometheus.NewRegistry()
			gcfg.Registerer = reg
		} else {
			return nil, fmt.Errorf("%w: MetricsListen needs Gateway.Registerer to be nil or a *prometheus.Registry", ErrInvalidConfig)
		}
	}
	gw, err := New(gcfg)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = gw.Shutdown(context.Background()) })
	s := &Server{gw: gw, engine: engine, done: make(chan struct{})}
	if reg != nil {
		if err := s.serveMetrics(cfg.MetricsListen, reg); err != nil {
			return nil, err
		}
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https"
	}
	s.srv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsCfg}
	s.url = scheme + "://" + ln.Addr().String()
	s.wsURL = "ws" + scheme[len("http"):] + "://" + ln.Addr().String()
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("gateway: serve: %w", err)
		}
	}()
	return s, nil
}

// tlsConfig loads the certificate, or returns nil without one.
func (cfg *ServerConfig) tlsConfig() (*tls.Config, error) {
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, fmt.Errorf("%w: TLS certificate and key go together", ErrInvalidConfig)
	}
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: load TLS certificate: %w", ErrInvalidConfig, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// mediaIPs returns ips, or the listener's host when ips is empty and that
// host is a specific IP.
func mediaIPs(ips []string, addr net.Addr) []string {
	if len(ips) > 0 {
		return ips
	}
	if host, _, err := net.SplitHostPort(addr.String()); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			return []string{host}
		}
	}
	return nil
}

// serveMetrics serves reg on addr's /metrics.
func (s *Server) serveMetrics(addr string, reg *prometheus.Registry) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.metricsURL = "http://" + ln.Addr().String() + "/metrics"
	s.metricsDone = make(chan struct{})
	go func() {
		defer close(s.metricsDone)
		_ = s.metricsSrv.Serve(ln) // ErrServerClosed after Close
	}()
	return nil
}

// URL is the REST base URL, http(s)://host:port.
func (s *Server) URL() string { return s.url }

// WSURL is the websocket base URL, ws(s)://host:port.
func (s *Server) WSURL() string { return s.wsURL }

// MetricsURL is the URL of /metrics, empty without ServerConfig.MetricsListen.
func (s *Server) MetricsURL() string { return s.metricsURL }

// Gateway is the served gateway, for its Stats and remote actions.
func (s *Server) Gateway() *Gateway { return s.gw }

// Done is closed when the server stops serving: after Close, or on its own
// when its listener fails (Close then reports why).
func (s *Server) Done() <-chan struct{} { return s.done }

// Close ends every session (Gateway.Shutdown), stops serving, closes the
// media engine and the metrics server, within ctx. It returns the first
// error met, including a failure of the server while it was serving.
func (s *Server) Close(ctx context.Context) error {
	err := s.gw.Shutdown(ctx)
	if serr := s.srv.Shutdown(ctx); serr != nil && err == nil {
		err = fmt.Errorf("gateway: stop serving: %w", serr)
	}
	select {
	case <-s.done:
		if s.err != nil && err == nil {
			err = s.err
		}
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("gateway: stop serving: %w", ctx.Err())
		}
	}
	if cerr := s.engine.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("gateway: close media engine: %w", cerr)
	}
	if s.metricsSrv != nil {
		if merr := s.metricsSrv.Shutdown(ctx); merr != nil && err == nil {
			err = fmt.Errorf("gateway: stop metrics: %w", merr)
		}
		<-s.metricsDone
	}
	return err
}
