package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/loadgen/loadgen/internal/gateway"
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
	mediaEngine  string       // pion (default) or transport
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
			fs.StringVar(&gf.mediaEngine, "media-engine", "pion", "the answerers' media engine: pion (pion peers, as checked against browsers) or transport (loadgen's transport, a socket per call: for benchmarks with thousands of calls)")
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

// serverConfig maps gf onto the gateway server's configuration; getenv reads
// the token key of --token-key-env.
func serverConfig(gf gatewayFlags, getenv func(string) string) (gateway.ServerConfig, error) {
	cfg := gateway.DefaultConfig()
	if gf.tokenKeyEnv != "" {
		key := getenv(gf.tokenKeyEnv)
		if key == "" {
			return gateway.ServerConfig{}, usageErrorf("token mode: environment variable %s is empty or unset", gf.tokenKeyEnv)
		}
		if gf.realm == "" {
			return gateway.ServerConfig{}, usageErrorf("token mode needs --realm")
		}
		cfg.Mode = gateway.ModeToken
		cfg.Realms = map[string]string{gf.realm: key}
	} else if gf.realm != "" {
		return gateway.ServerConfig{}, usageErrorf("--realm needs --token-key-env (token mode)")
	}
	if gf.mediaEngine != "" && gf.mediaEngine != "pion" && gf.mediaEngine != "transport" {
		return gateway.ServerConfig{}, usageErrorf("--media-engine must be pion or transport, got %q", gf.mediaEngine)
	}
	if (gf.tlsCert == "") != (gf.tlsKey == "") {
		return gateway.ServerConfig{}, usageErrorf("--tls-cert and --tls-key go together")
	}
	if gf.portMin > 65535 || gf.portMax > 65535 || gf.portMin > gf.portMax {
		return gateway.ServerConfig{}, usageErrorf("media port range %d-%d is not a valid UDP port range", gf.portMin, gf.portMax)
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
	if gf.metricsAddr != "" {
		// The process's own health beside the gateway's series: an
		// operator (and the soak test) sees goroutines, descriptors and
		// memory return to their baseline after a run.
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		cfg.Registerer = reg
	}
	return gateway.ServerConfig{
		Gateway:       cfg,
		Listen:        gf.listen,
		TLSCertFile:   gf.tlsCert,
		TLSKeyFile:    gf.tlsKey,
		MediaPortMin:  uint16(gf.portMin),
		MediaPortMax:  uint16(gf.portMax),
		MediaIPs:      splitList(gf.ips),
		MetricsListen: gf.metricsAddr,
		Transport:     gf.mediaEngine == "transport",
	}, nil
}

// startGateway starts the gateway server that gf describes.
func startGateway(gf gatewayFlags, getenv func(string) string) (*gateway.Server, error) {
	cfg, err := serverConfig(gf, getenv)
	if err != nil {
		return nil, err
	}
	srv, err := gateway.Listen(cfg)
	if errors.Is(err, gateway.ErrInvalidConfig) {
		return nil, usageError(err)
	}
	return srv, err
}

func serve(ctx context.Context, e *env, gf gatewayFlags) error {
	srv, err := startGateway(gf, e.getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "gateway listening on %s\n", srv.URL())
	if u := srv.MetricsURL(); u != "" {
		fmt.Fprintf(e.stderr, "gateway metrics on %s\n", u)
	}
	select {
	case <-ctx.Done():
	case sig := <-e.interrupts:
		fmt.Fprintf(e.stderr, "loadgen serve: %v: ending every session\n", sig)
	case <-srv.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}
