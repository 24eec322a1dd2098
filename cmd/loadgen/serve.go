package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// gatewayFlags are the built-in gateway's knobs, shared by `serve` (flags)
// and `run` (embedded gateway).
type gatewayFlags struct {
	listen       string
	realm        string
	tokenKeyEnv  string
	tlsCert      string
	tlsKey       string
	answerDelay  time.Duration
	ringingDelay time.Duration
	reofferDelay time.Duration
	noRinging    bool
	rejectRatio  float64
	rejectStatus int
	rejectHTTP   bool
	portMin      uint
	portMax      uint
	ips          string
	logger       *slog.Logger // nil: discard
	metricsAddr  string       // serve /metrics here; "" none
}

// parseLogLevel parses --log-level.
func parseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, usageErrorf("--log-level %q: want debug, info, warn or error", s)
	}
}

func serveCommand() command {
	return command{
		summary: "run the built-in Kandy-compatible gateway",
		usage: "loadgen serve [--listen 127.0.0.1:8080] [--token-key-env VAR --realm R] [--tls-cert F --tls-key F]\n\n" +
			"Prints \"gateway listening on http://HOST:PORT\" and serves until SIGINT/SIGTERM,\n" +
			"then ends every session cleanly. Each call is answered by a real pion peer that\n" +
			"plays the embedded media back. With --token-key-env the gateway runs in token mode\n" +
			"and validates every token with the key in that environment variable.\n\n" +
			"Example:\n  LOADGEN_TOKEN_KEY=0123456789abcdef loadgen serve --listen 127.0.0.1:8080 \\\n" +
			"    --token-key-env LOADGEN_TOKEN_KEY --realm realm-test",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			var gf gatewayFlags
			var logLevel string
			fs.StringVar(&gf.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0: any free port)")
			fs.StringVar(&gf.tokenKeyEnv, "token-key-env", "", "token mode: the environment variable holding the 16/32-character token key")
			fs.StringVar(&gf.realm, "realm", "", "token mode: the token realm (required with --token-key-env)")
			fs.StringVar(&gf.tlsCert, "tls-cert", "", "serve https/wss with this certificate (PEM)")
			fs.StringVar(&gf.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
			fs.DurationVar(&gf.answerDelay, "answer-delay", gateway.DefaultAnswerDelay, "least delay from callStart to the answer")
			fs.DurationVar(&gf.ringingDelay, "ringing-delay", gateway.DefaultRingingDelay, "delay from callStart to ringing")
			fs.DurationVar(&gf.reofferDelay, "reoffer-delay", gateway.DefaultReofferDelay, "least delay from the response to a hold/unhold re-offer (startCallUpdate PUT) to its answer")
			fs.BoolVar(&gf.noRinging, "no-ringing", false, "do not send the ringing notification")
			fs.Float64Var(&gf.rejectRatio, "reject-ratio", 0, "fraction of calls to refuse (0..1), for failure tests")
			fs.IntVar(&gf.rejectStatus, "reject-status", gateway.DefaultRejectStatus, "status of refused calls (callEnd status, or HTTP status with --reject-http)")
			fs.BoolVar(&gf.rejectHTTP, "reject-http", false, "refuse calls with an HTTP error on callStart instead of a callEnd")
			fs.UintVar(&gf.portMin, "port-min", 0, "lowest UDP port for media (0: any)")
			fs.UintVar(&gf.portMax, "port-max", 0, "highest UDP port for media (0: any)")
			fs.StringVar(&gf.ips, "media-ips", "", "comma-separated local IPs to gather media candidates on (default: the listen host if it is an IP, else all)")
			fs.StringVar(&gf.metricsAddr, "metrics-listen", "", "serve the gateway's Prometheus metrics (loadgen_gateway_*) on this address's /metrics")
			fs.StringVar(&logLevel, "log-level", "warn", "log level of the gateway's structured logs on stderr: debug, info, warn or error")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected arguments: %s", strings.Join(args, " "))
				}
				level, err := parseLogLevel(logLevel)
				if err != nil {
					return err
				}
				gf.logger = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
				return serve(ctx, e, gf)
			}
		},
	}
}

// embeddedGateway is a gateway serving on a listener, with its media engine.
type embeddedGateway struct {
	gw     *gateway.Gateway
	engine *media.Engine
	srv    *http.Server
	ln     net.Listener
	url    string // http(s)://host:port
	wsURL  string // ws(s)://host:port
	errc   chan error

	metricsSrv *http.Server // nil without --metrics-listen
	metricsURL string       // http://host:port/metrics
}

// startGateway builds the gateway and its media engine from gf and starts
// serving. getenv reads the token key.
func startGateway(gf gatewayFlags, getenv func(string) string) (*embeddedGateway, error) {
	cfg := gateway.DefaultConfig()
	if gf.tokenKeyEnv != "" {
		key := getenv(gf.tokenKeyEnv)
		if key == "" {
			return nil, usageErrorf("token mode: environment variable %s is empty or unset", gf.tokenKeyEnv)
		}
		if gf.realm == "" {
			return nil, usageErrorf("token mode needs --realm")
		}
		cfg.Mode = gateway.ModeToken
		cfg.Realms = map[string]string{gf.realm: key}
	} else if gf.realm != "" {
		return nil, usageErrorf("--realm needs --token-key-env (token mode)")
	}
	if (gf.tlsCert == "") != (gf.tlsKey == "") {
		return nil, usageErrorf("--tls-cert and --tls-key go together")
	}
	if gf.portMin > 65535 || gf.portMax > 65535 || gf.portMin > gf.portMax {
		return nil, usageErrorf("media port range %d-%d is not a valid UDP port range", gf.portMin, gf.portMax)
	}
	cfg.AnswerDelay = gf.answerDelay
	cfg.RingingDelay = gf.ringingDelay
	cfg.ReofferDelay = gf.reofferDelay
	cfg.Logger = gf.logger
	cfg.Ringing = !gf.noRinging
	cfg.RejectRatio = gf.rejectRatio
	cfg.RejectStatus = gf.rejectStatus
	if gf.rejectHTTP {
		cfg.RejectMode = gateway.RejectHTTP
	}

	ln, err := net.Listen("tcp", gf.listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", gf.listen, err)
	}
	ips := splitList(gf.ips)
	if len(ips) == 0 {
		if host, _, err := net.SplitHostPort(ln.Addr().String()); err == nil {
			if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
				ips = []string{host}
			}
		}
	}
	ecfg := media.EngineConfig{
		PortMin:         uint16(gf.portMin),
		PortMax:         uint16(gf.portMax),
		IncludeLoopback: true,
		IPs:             ips,
	}
	engine, err := media.NewEngine(ecfg)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("gateway media engine: %w", err)
	}
	cfg.NewAnswerer = func() (gateway.Answerer, error) {
		return engine.NewAnswerer(media.PeerOptions{Video: true})
	}
	var reg *prometheus.Registry
	if gf.metricsAddr != "" {
		reg = prometheus.NewRegistry()
		cfg.Registerer = reg
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		engine.Close()
		ln.Close()
		return nil, usageError(err)
	}
	scheme, wsScheme := "http", "ws"
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	if gf.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(gf.tlsCert, gf.tlsKey)
		if err != nil {
			gw.Shutdown(context.Background())
			engine.Close()
			ln.Close()
			return nil, usageErrorf("load TLS certificate: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme, wsScheme = "https", "wss"
	}
	eg := &embeddedGateway{
		gw: gw, engine: engine, srv: srv, ln: ln,
		url:   scheme + "://" + ln.Addr().String(),
		wsURL: wsScheme + "://" + ln.Addr().String(),
		errc:  make(chan error, 1),
	}
	if reg != nil {
		mln, err := net.Listen("tcp", gf.metricsAddr)
		if err != nil {
			gw.Shutdown(context.Background())
			engine.Close()
			ln.Close()
			return nil, fmt.Errorf("metrics: listen on %s: %w", gf.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		eg.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		eg.metricsURL = "http://" + mln.Addr().String() + "/metrics"
		go func() { _ = eg.metricsSrv.Serve(mln) }() // ErrServerClosed after stop
	}
	go func() { eg.errc <- srv.Serve(ln) }()
	return eg, nil
}

// stop ends every session, stops serving and closes the media engine.
func (eg *embeddedGateway) stop(ctx context.Context) error {
	err := eg.gw.Shutdown(ctx)
	if serr := eg.srv.Shutdown(ctx); serr != nil && err == nil {
		err = serr
	}
	if serveErr := <-eg.errc; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if cerr := eg.engine.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if eg.metricsSrv != nil {
		if merr := eg.metricsSrv.Shutdown(ctx); merr != nil && err == nil {
			err = merr
		}
	}
	return err
}

func serve(ctx context.Context, e *env, gf gatewayFlags) error {
	eg, err := startGateway(gf, e.getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "gateway listening on %s\n", eg.url)
	if eg.metricsURL != "" {
		fmt.Fprintf(e.stderr, "gateway metrics on %s\n", eg.metricsURL)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case sig := <-e.interrupts:
		fmt.Fprintf(e.stderr, "loadgen serve: %v: ending every session\n", sig)
	case serveErr = <-eg.errc:
		eg.errc <- serveErr // stop reads it again
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eg.stop(sctx); err != nil && serveErr == nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}
