package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names of the gateway, all under the loadgen_gateway_ prefix.
const (
	metricSubscriptionsOpen    = "loadgen_gateway_subscriptions_open"
	metricWebsocketsOpen       = "loadgen_gateway_websockets_open"
	metricSessionsOpen         = "loadgen_gateway_sessions_open"
	metricCallsAnswered        = "loadgen_gateway_calls_answered_total"
	metricCallsFailed          = "loadgen_gateway_calls_failed_total"
	metricCallsEnded           = "loadgen_gateway_calls_ended_total"
	metricNotificationsDropped = "loadgen_gateway_notifications_dropped_total"
)

// endReasons and failSteps are the closed label sets, each initialised at
// zero so that a dashboard sees every series from the start.
var (
	endReasons = []endReason{endLocal, endRemote, endRejected, endFailed, endAuditTimeout, endUnsubscribed, endSubscriptionExpired, endShutdown}
	failSteps  = []failStep{failCreateAnswerer, failAnswer, failAnswerReoffer}
)

// metrics are the gateway's Prometheus metrics. The open gauges read the
// gateway's maps at scrape time; the counters count as things happen.
type metrics struct {
	answered prometheus.Counter
	failed   *prometheus.CounterVec // reason: failStep
	ended    *prometheus.CounterVec // reason: endReason
	dropped  prometheus.Counter
}

// newMetrics builds g's metrics and registers them with reg (nil: none).
func newMetrics(g *Gateway, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		answered: prometheus.NewCounter(prometheus.CounterOpts{Name: metricCallsAnswered,
			Help: "Calls whose answer the gateway sent."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCallsFailed,
			Help: "Calls the gateway ended with callEnd 488 because its media side failed, by failed step."}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCallsEnded,
			Help: "Calls ended, by reason."}, []string{"reason"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: metricNotificationsDropped,
			Help: "Notifications never written to a websocket (queue full, subscription removed, socket closed)."}),
	}
	for _, r := range endReasons {
		m.ended.WithLabelValues(string(r))
	}
	for _, s := range failSteps {
		m.failed.WithLabelValues(string(s))
	}
	if reg == nil {
		return m, nil
	}
	open := func(name, help string, n func(Stats) int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(n(g.Stats())) })
	}
	cs := []prometheus.Collector{
		open(metricSubscriptionsOpen, "Subscriptions open.", func(st Stats) int { return st.Subscriptions }),
		open(metricWebsocketsOpen, "Notification websockets open.", func(st Stats) int { return st.Sockets }),
		open(metricSessionsOpen, "Call sessions open.", func(st Stats) int { return st.Sessions }),
		m.answered, m.failed, m.ended, m.dropped,
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}
