package run

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/loadgen/loadgen/internal/metrics"
	"github.com/loadgen/loadgen/internal/metrics/promexport"
	"github.com/loadgen/loadgen/internal/metrics/threshold"
)

// metricsServer serves the run's /metrics from its own registry.
type metricsServer struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// serveMetrics serves r's recorder on addr. Every scrape takes one snapshot;
// the threshold and validity gauges judge that snapshot as the end of the
// run would, so a Grafana alert agrees with the CI gate.
func serveMetrics(addr string, r *runner) (*metricsServer, error) {
	opts := promexport.CollectorOptions{
		Scenario: r.s.Name, Mode: string(r.s.Mode), RunID: r.o.RunID,
		Shard: r.o.Shard.Index, Shards: r.o.Shard.Count, Version: r.o.Version,
		Buckets: r.s.Outputs.HistogramBuckets,
		Thresholds: func(s *metrics.Snapshot) []threshold.Result {
			return threshold.Evaluate(s, r.out.thresholds)
		},
		Valid: func(s *metrics.Snapshot) (bool, bool) {
			v := r.out.verdict(s)
			return v.Valid, true
		},
		CallStates: r.calls.caller.CallStates,
		LiveMedia:  r.calls.caller.LiveMedia,
	}
	if r.cpu != nil {
		opts.CPUsAvailable = r.cpu.CPUs()
	}
	reg, err := promexport.NewRegistry(r.rec, opts)
	if err != nil {
		return nil, fmt.Errorf("metrics registry: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promexport.Handler(reg))
	m := &metricsServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		addr: ln.Addr().String(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln) // http.ErrServerClosed after stop
	}()
	return m, nil
}

// linger keeps serving the final values for d, or until ctx ends or an
// interrupt arrives.
func (m *metricsServer) linger(ctx context.Context, d time.Duration, interrupts <-chan os.Signal) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-interrupts:
	}
}

// stop shuts the server down.
func (m *metricsServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx) // scrapes in flight get 2 s
	<-m.done
}
