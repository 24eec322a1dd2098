package signal

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Mode selects the flavour of anonymous call (§1).
type Mode int

const (
	// ModeRegular is the regular anonymous call: the callee is the path
	// user and to/from are SIP URIs.
	ModeRegular Mode = iota
	// ModeToken is the token-based anonymous call: the accountToken is the
	// path user, to/from are the toToken/fromToken and every REST request
	// carries ?tokenrealm=.
	ModeToken
)

// String returns "regular" or "token".
func (m Mode) String() string {
	switch m {
	case ModeRegular:
		return "regular"
	case ModeToken:
		return "token"
	default:
		return fmt.Sprintf("Mode(%d)", int(m))
	}
}

// Defaults applied by NewClient to zero-valued Config fields. The timer
// defaults are the reference SDK's (§2, §8, §11, §12).
const (
	// SDKAgent is the X-Cpaas-Agent value of the reference SDK (§3.3).
	SDKAgent = "callme-js-sdk/5.2.0"
	// DefaultVersion is the loadgen version named in the agent header when
	// Config.Version is empty.
	DefaultVersion = "dev"
	// DefaultAgent is the X-Cpaas-Agent header sent when Config.Agent and
	// Config.Version are empty.
	DefaultAgent = SDKAgent + " loadgen/" + DefaultVersion
	// DefaultExpires is the requested subscription lifetime in seconds.
	DefaultExpires = 3600
	// DefaultPingInterval is the websocket keep-alive period (§5.3).
	DefaultPingInterval = 30 * time.Second
	// DefaultAuditInterval is the audit period (§8).
	DefaultAuditInterval = 25 * time.Second
	// DefaultAuditTimeout bounds one audit request (§8).
	DefaultAuditTimeout = 4 * time.Second
	// DefaultAuditRetry is the wait after a failed audit (§8: 5 s minus
	// the request time).
	DefaultAuditRetry = 5 * time.Second
	// DefaultAuditTimeoutRetry is the wait after an audit that timed out
	// (§8: retried 1 s later).
	DefaultAuditTimeoutRetry = time.Second
	// DefaultRefreshFloor is the shortest wait before a subscription
	// refresh (§12: never below 30 s).
	DefaultRefreshFloor = 30 * time.Second
	// DefaultRequestTimeout bounds every REST request and the websocket
	// handshake. The SDK has none; a load generator must.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultNotificationBuffer is the capacity of a Session's
	// notification channel.
	DefaultNotificationBuffer = 64
	// DefaultMaxIdleConnsPerHost is the keep-alive pool size per gateway
	// of the HTTP client NewClient builds.
	DefaultMaxIdleConnsPerHost = 1024
	// MaxBodyBytes caps every response body and websocket frame read.
	MaxBodyBytes = 1 << 20
)

// AgentFor returns the X-Cpaas-Agent value for a loadgen version:
// "callme-js-sdk/5.2.0 loadgen/<version>" (the SDK's value plus a suffix
// after a space, as §3.3 allows).
func AgentFor(version string) string {
	if version == "" {
		version = DefaultVersion
	}
	return SDKAgent + " loadgen/" + version
}

// Config configures a Client. Zero values take the Default* constants;
// negative durations are rejected by NewClient.
type Config struct {
	// BaseURL is the REST base, "http(s)://host:port" (no path).
	BaseURL string
	// WSURL is the websocket base, "ws(s)://host:port" (no path). Empty
	// means BaseURL with http→ws, https→wss.
	WSURL string
	// Mode selects regular or token-based calls.
	Mode Mode
	// Realm is the token realm, sent as ?tokenrealm= on every REST request
	// in token mode. Required in token mode, must be empty in regular mode.
	Realm string
	// Agent is the X-Cpaas-Agent header; empty means AgentFor(Version).
	Agent string
	// Version names loadgen's version in the default agent header.
	Version string
	// InsecureSkipVerify turns off TLS certificate checks (labs with
	// self-signed certificates). It applies only to the HTTP client and
	// dialer NewClient builds, not to HTTPClient/Dialer given here.
	InsecureSkipVerify bool
	// Expires is the requested subscription lifetime in seconds.
	Expires int
	// PingInterval is the websocket keep-alive period.
	PingInterval time.Duration
	// AuditInterval is the audit period, measured between audit starts.
	AuditInterval time.Duration
	// AuditTimeout bounds one audit request.
	AuditTimeout time.Duration
	// AuditRetry is the wait after a failed audit, measured from its start.
	AuditRetry time.Duration
	// AuditTimeoutRetry is the wait after an audit that timed out.
	AuditTimeoutRetry time.Duration
	// RefreshFloor is the shortest wait before an automatic subscription
	// refresh (§12 uses 30 s; tests use less).
	RefreshFloor time.Duration
	// RequestTimeout bounds every REST request (audits use AuditTimeout)
	// and the websocket handshake.
	RequestTimeout time.Duration
	// NotificationBuffer is the capacity of each Session's notification
	// channel.
	NotificationBuffer int
	// HTTPClient, if set, is used for every REST request instead of the
	// keep-alive client NewClient builds.
	HTTPClient *http.Client
	// Dialer, if set, dials the notification websockets.
	Dialer *websocket.Dialer
	// Now is the clock used to stamp Notification.Received; nil means
	// time.Now.
	Now func() time.Time
}

// Client is the per-run, shared part of the signalling client: the
// configuration, the keep-alive HTTP client and the websocket dialer. It is
// safe for concurrent use by any number of calls.
type Client struct {
	cfg      Config
	restBase string // scheme://host[:port]
	wsBase   string // scheme://host[:port]
	query    string // "" or "?tokenrealm=..."
	agent    string
	http     *http.Client
	ownHTTP  bool
	dialer   *websocket.Dialer
	now      func() time.Time
}

// NewClient validates cfg, applies defaults and builds the shared HTTP
// client (keep-alive, MaxIdleConnsPerHost DefaultMaxIdleConnsPerHost,
// certificate checks on unless InsecureSkipVerify).
func NewClient(cfg Config) (*Client, error) {
	restBase, wsBase, err := cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("signal: config: %w", err)
	}
	c := &Client{
		cfg:      cfg,
		restBase: restBase,
		wsBase:   wsBase,
		agent:    cfg.Agent,
		http:     cfg.HTTPClient,
		dialer:   cfg.Dialer,
		now:      cfg.Now,
	}
	if c.agent == "" {
		c.agent = AgentFor(cfg.Version)
	}
	if cfg.Mode == ModeToken {
		c.query = "?tokenrealm=" + url.QueryEscape(cfg.Realm)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.defaultTransports()
	return c, nil
}

// resolve validates cfg, applies the defaults for its zero fields in place
// and returns the REST and WebSocket base URLs. The error joins every
// problem found.
func (cfg *Config) resolve() (restBase, wsBase string, err error) {
	var errs []error
	restBase, err = parseBase(cfg.BaseURL, "http", "https")
	if err != nil {
		errs = append(errs, fmt.Errorf("base URL: %w", err))
	}
	if cfg.WSURL == "" && err == nil {
		cfg.WSURL = "ws" + strings.TrimPrefix(restBase, "http")
	}
	wsBase, err = parseBase(cfg.WSURL, "ws", "wss")
	if err != nil {
		errs = append(errs, fmt.Errorf("websocket URL: %w", err))
	}
	if err := cfg.checkMode(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, cfg.applyDefaults()...)
	return restBase, wsBase, errors.Join(errs...)
}

// checkMode checks that Realm is set exactly when Mode needs one.
func (cfg *Config) checkMode() error {
	switch cfg.Mode {
	case ModeRegular:
		if cfg.Realm != "" {
			return errors.New("realm is only used in token mode")
		}
	case ModeToken:
		if cfg.Realm == "" {
			return errors.New("token mode needs a realm")
		}
	default:
		return fmt.Errorf("unknown mode %d", int(cfg.Mode))
	}
	return nil
}

// applyDefaults replaces the zero counts and durations with their defaults
// and returns an error for each negative one.
func (cfg *Config) applyDefaults() []error {
	var errs []error
	if cfg.Expires < 0 {
		errs = append(errs, fmt.Errorf("expires must not be negative, got %d", cfg.Expires))
	} else if cfg.Expires == 0 {
		cfg.Expires = DefaultExpires
	}
	if cfg.NotificationBuffer < 0 {
		errs = append(errs, fmt.Errorf("notification buffer must not be negative, got %d", cfg.NotificationBuffer))
	} else if cfg.NotificationBuffer == 0 {
		cfg.NotificationBuffer = DefaultNotificationBuffer
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ping interval", &cfg.PingInterval, DefaultPingInterval},
		{"audit interval", &cfg.AuditInterval, DefaultAuditInterval},
		{"audit timeout", &cfg.AuditTimeout, DefaultAuditTimeout},
		{"audit retry", &cfg.AuditRetry, DefaultAuditRetry},
		{"audit timeout retry", &cfg.AuditTimeoutRetry, DefaultAuditTimeoutRetry},
		{"refresh floor", &cfg.RefreshFloor, DefaultRefreshFloor},
		{"request timeout", &cfg.RequestTimeout, DefaultRequestTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			errs = append(errs, fmt.Errorf("%s must not be negative, got %v", d.name, *d.v))
		case *d.v == 0:
			*d.v = d.def
		}
	}
	return errs
}

// defaultTransports builds the HTTP client and WebSocket dialer that the
// configuration did not supply: keep-alive, DefaultMaxIdleConnsPerHost,
// certificate checks on unless InsecureSkipVerify.
func (c *Client) defaultTransports() {
	cfg := c.cfg
	tlsConf := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // explicit opt-out for labs
	netDialer := &net.Dialer{Timeout: cfg.RequestTimeout, KeepAlive: 30 * time.Second}
	if c.http == nil {
		c.ownHTTP = true
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           netDialer.DialContext,
			TLSClientConfig:       tlsConf,
			TLSHandshakeTimeout:   cfg.RequestTimeout,
			MaxIdleConns:          0, // no global limit
			MaxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}}
	}
	if c.dialer == nil {
		c.dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			NetDialContext:   netDialer.DialContext,
			HandshakeTimeout: cfg.RequestTimeout,
			TLSClientConfig:  tlsConf.Clone(),
		}
	}
}

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// Close closes the idle keep-alive connections of the HTTP client NewClient
// built (a client given in Config.HTTPClient is left alone). Sessions must be
// closed separately.
func (c *Client) Close() error {
	if c.ownHTTP {
		c.http.CloseIdleConnections()
	}
	return nil
}

// parseBase checks "scheme://host[:port]" and returns it without a trailing
// slash.
func parseBase(raw string, schemes ...string) (string, error) {
	if raw == "" {
		return "", errors.New("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	ok := false
	for _, s := range schemes {
		if u.Scheme == s {
			ok = true
		}
	}
	if !ok {
		return "", fmt.Errorf("%q: scheme must be %s", raw, strings.Join(schemes, " or "))
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q: no host", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q: must be scheme://host:port only", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
