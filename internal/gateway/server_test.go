package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestListen serves a gateway with its own media engine and metrics on
// loopback, places a real call against it, scrapes /metrics and closes it.
func TestListen(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RingingDelay, cfg.AnswerDelay = 5*time.Millisecond, 10*time.Millisecond
	srv, err := Listen(ServerConfig{Gateway: cfg, Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = srv.Close(context.Background())
		}
	})
	if !strings.HasPrefix(srv.URL(), "http://127.0.0.1:") || srv.WSURL() != "ws"+strings.TrimPrefix(srv.URL(), "http") {
		t.Errorf("URL %q, WSURL %q", srv.URL(), srv.WSURL())
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: waitFor}
	defer client.CloseIdleConnections()
	h := &harness{t: t, g: srv.Gateway(), url: srv.URL(), f: &answererFactory{api: newTestAPI(t)}, client: client}

	o := newOfferer(t, h.f.api)
	s := h.subscribe("callee@example.com", "")
	ws := h.mustDial(s.channelPath)
	id := h.start(s, "sip:callee@example.com", "sip:caller@example.com", o.offer(t), nil)
	ws.next("ringing", id)
	o.applyAnswer(t, str(ws.next("respondCallUpdate", id), "sessionParams", "sdp"))
	o.waitConnected(t) // the engine's answerer

	res, err := client.Get(srv.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"loadgen_gateway_sessions_open 1\n", "loadgen_gateway_calls_answered_total 1\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	closed = true
	if err := srv.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if code := ws.waitClosed(); code != 1001 {
		t.Errorf("websocket close code %d, want 1001", code)
	}
	_ = o.pc.Close()
}

func TestListenConfigErrors(t *testing.T) {
	base := func() ServerConfig { return ServerConfig{Gateway: DefaultConfig(), Listen: "127.0.0.1:0"} }
	tests := []struct {
		name    string
		mutate  func(*ServerConfig)
		invalid bool
		want    string
	}{
		{"cert without key", func(c *ServerConfig) { c.TLSCertFile = "cert.pem" }, true, "certificate and key go together"},
		{"missing certificate", func(c *ServerConfig) { c.TLSCertFile, c.TLSKeyFile = "/nonexistent/c.pem", "/nonexistent/k.pem" }, true, "load TLS certificate"},
		{"port range", func(c *ServerConfig) { c.MediaPortMin, c.MediaPortMax = 20000, 10000 }, true, "media port range"},
		{"gateway config", func(c *ServerConfig) { c.Gateway.AnswerDelay = -1 }, true, "negative delay"},
		{"metrics without a registry", func(c *ServerConfig) {
			c.MetricsListen = "127.0.0.1:0"
			c.Gateway.Registerer = prometheus.WrapRegistererWithPrefix("x_", prometheus.NewRegistry())
		}, true, "MetricsListen needs"},
		{"bad listen address", func(c *ServerConfig) { c.Listen = "127.0.0.1:-1" }, false, "gateway: listen on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mutate(&cfg)
			srv, err := Listen(cfg)
			if err == nil {
				_ = srv.Close(context.Background())
				t.Fatalf("Listen succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrInvalidConfig) != tt.invalid {
				t.Errorf("Listen = %v, want %q (ErrInvalidConfig: %v)", err, tt.want, tt.invalid)
			}
		})
	}
}
