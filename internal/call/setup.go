package call

import (
	"fmt"
	"net"
	"net/url"

	"github.com/pion/webrtc/v4"

	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/signal"
)

// NewSignalConfig maps a validated scenario's target and mode onto the
// signalling client's configuration; baseURL is the embedded gateway's
// address when the scenario has no target (ignored otherwise). version names
// loadgen in the default agent header.
func NewSignalConfig(s *scenario.Scenario, baseURL, version string) signal.Config {
	cfg := signal.Config{
		BaseURL:            s.Target.RESTURL,
		WSURL:              s.Target.WSURL,
		Agent:              s.Target.Agent,
		Version:            version,
		InsecureSkipVerify: s.Target.InsecureSkipVerify,
	}
	if s.Target.Embedded() {
		cfg.BaseURL, cfg.WSURL = baseURL, ""
	}
	if s.Mode == scenario.ModeToken && s.Token != nil {
		cfg.Mode, cfg.Realm = signal.ModeToken, s.Token.Realm
	}
	return cfg
}

// NewEngineConfig maps a validated scenario onto the media engine's
// configuration: the engine (call.media_engine: Transport or PionDefaults;
// neither for pion), ICE servers and policy, the media port range, the
// media files (loaded here, once; nil means the embedded defaults) and, for
// the embedded gateway, loopback-only candidates.
func NewEngineConfig(s *scenario.Scenario) (media.EngineConfig, error) {
	t := s.Target
	cfg := media.EngineConfig{
		PortMin: t.PortMin, PortMax: t.PortMax,
		RelayOnly:    t.ICETransportPolicy == scenario.ICERelay,
		Transport:    s.Call.MediaEngine == scenario.EngineTransport,
		PionDefaults: s.Call.MediaEngine == scenario.EnginePionDefaults,
	}
	for _, srv := range t.ICEServers {
		cfg.ICEServers = append(cfg.ICEServers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	switch {
	case len(t.MediaIPs) > 0:
		// The user chose the addresses (a host with several interfaces).
		cfg.IPs = t.MediaIPs
		for _, ip := range t.MediaIPs {
			if a := net.ParseIP(ip); a != nil && a.IsLoopback() {
				cfg.IncludeLoopback = true
			}
		}
	case t.Embedded() || loopbackTarget(t.RESTURL):
		// A gateway on this host: gather on loopback only, so media never
		// leaves 127.0.0.1 (and no other interface is offered).
		cfg.IncludeLoopback, cfg.IPs = true, []string{"127.0.0.1"}
	}
	var err error
	if s.Call.AudioFile != "" {
		if cfg.Audio, err = media.LoadFile(s.Call.AudioFile); err != nil {
			return media.EngineConfig{}, fmt.Errorf("call: audio file: %w", err)
		}
	}
	if s.Call.VideoFile != "" {
		if cfg.Video, err = media.LoadFile(s.Call.VideoFile); err != nil {
			return media.EngineConfig{}, fmt.Errorf("call: video file: %w", err)
		}
	}
	return cfg, nil
}

// loopbackTarget reports whether a REST URL names a loopback host
// (127.0.0.0/8, ::1 or localhost).
func loopbackTarget(rest string) bool {
	u, err := url.Parse(rest)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
