package run

import (
	"github.com/loadgen/loadgen/internal/gateway"
	"github.com/loadgen/loadgen/internal/scenario"
)

// embeddedGateway is the built-in gateway's configuration for a scenario
// with no target: on loopback, any free port, media on 127.0.0.1, the
// scenario's gateway knobs, and token mode's realm and key (from Check).
func embeddedGateway(s *scenario.Scenario, key string) gateway.ServerConfig {
	cfg := gateway.DefaultConfig()
	cfg.Ringing = s.Gateway.Ringing
	cfg.RejectRatio = s.Gateway.RejectRatio
	cfg.RejectStatus = s.Gateway.RejectStatus
	cfg.ReofferDelay = gateway.DefaultReofferDelay
	if s.Gateway.AnswerDelay != nil {
		cfg.AnswerDelay = *s.Gateway.AnswerDelay
	}
	if s.Gateway.RingingDelay != nil {
		cfg.RingingDelay = *s.Gateway.RingingDelay
	}
	if s.Mode == scenario.ModeToken && s.Token != nil {
		cfg.Mode = gateway.ModeToken
		cfg.Realms = map[string]string{s.Token.Realm: key}
	}
	return gateway.ServerConfig{
		Gateway:  cfg,
		Listen:   "127.0.0.1:0",
		MediaIPs: []string{"127.0.0.1"},
	}
}
