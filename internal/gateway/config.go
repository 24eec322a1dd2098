package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/loadgen/loadgen/internal/token"
	"github.com/prometheus/client_golang/prometheus"
)

// Answerer is the media side of one call: a real WebRTC peer (internal/media
// provides it) that answers the caller's offer. One Answerer serves one call
// from callStart to its end; the gateway calls it from a single goroutine.
type Answerer interface {
	// Answer applies offerSDP (the initial offer or any later re-offer) and
	// returns the complete answer SDP, ICE gathering finished (no trickle).
	Answer(ctx context.Context, offerSDP string) (answerSDP string, err error)
	// Close releases the peer; the gateway calls it exactly once.
	Close() error
}

// Reofferer is implemented by an Answerer that can start a renegotiation
// itself, used for remote hold/unhold (Gateway.RemoteHold).
type Reofferer interface {
	// Reoffer returns a complete offer SDP; hold true marks every m-section inactive.
	Reoffer(ctx context.Context, hold bool) (offerSDP string, err error)
	// ApplyAnswer applies the client's answer to the last Reoffer.
	ApplyAnswer(answerSDP string) error
}

// NewAnswerer makes the Answerer of one call.
type NewAnswerer func() (Answerer, error)

// Mode selects how the gateway authenticates anonymous calls.
type Mode int

const (
	// ModeRegular accepts any well-formed caller and callee (regular anonymous calls).
	ModeRegular Mode = iota
	// ModeToken requires ?tokenrealm= and valid tokens on every REST request (§13).
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

// ParseMode parses "regular" or "token".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "regular":
		return ModeRegular, nil
	case "token":
		return ModeToken, nil
	default:
		return 0, fmt.Errorf("gateway: unknown mode %q (want regular or token)", s)
	}
}

// RejectMode selects how a call drawn for rejection (Config.RejectRatio) is refused.
type RejectMode int

const (
	// RejectCallEnd answers callStart with 200, sends ringing (when enabled) and
	// then a callEnd notification whose sessionParams.statusCode is
	// Config.RejectStatus (a SIP-like code: 486 busy, 480 no answer, 603 declined).
	RejectCallEnd RejectMode = iota
	// RejectHTTP answers callStart with HTTP status Config.RejectStatus (400-599)
	// and body {"callControlResponse":{"statusCode":RejectStatus,"reason":...}}.
	RejectHTTP
)

// String returns "callend" or "http".
func (m RejectMode) String() string {
	switch m {
	case RejectCallEnd:
		return "callend"
	case RejectHTTP:
		return "http"
	default:
		return fmt.Sprintf("RejectMode(%d)", int(m))
	}
}

// ParseRejectMode parses "callend" or "http".
func ParseRejectMode(s string) (RejectMode, error) {
	switch s {
	case "callend":
		return RejectCallEnd, nil
	case "http":
		return RejectHTTP, nil
	default:
		return 0, fmt.Errorf("gateway: unknown reject mode %q (want callend or http)", s)
	}
}

// Defaults used by DefaultConfig and for zero-valued optional fields.
const (
	// DefaultSubscriptionExpires is the largest subscription lifetime granted (s).
	DefaultSubscriptionExpires = 3600
	// DefaultAuditTimeout ends a call that has not been audited for this long (3 × 25 s).
	DefaultAuditTimeout = 75 * time.Second
	// DefaultMaxBodyBytes bounds every request body.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultRingingDelay is the wait from the callStart response to ringing.
	DefaultRingingDelay = 100 * time.Millisecond
	// DefaultAnswerDelay is the least wait from the callStart response to the answer.
	DefaultAnswerDelay = 500 * time.Millisecond
	// DefaultReofferDelay is the least wait from the response to a client's
	// re-offer (startCallUpdate PUT) to the respondCallUpdate answering it.
	DefaultReofferDelay = 10 * time.Millisecond
	// DefaultTokenValidity is how old a token may be when a subscription or call is created.
	DefaultTokenValidity = time.Hour
	// DefaultTokenSkew is how far in the future a token timestamp may be.
	DefaultTokenSkew = 5 * time.Minute
	// DefaultRejectStatus is the callEnd status of rejected calls (SIP 486 Busy Here).
	DefaultRejectStatus = 486
	// DefaultRemoteName is sent as callNotificationParams.remoteName.
	DefaultRemoteName = "Loadgen Gateway"
)

// Config configures a Gateway. Start from DefaultConfig.
type Config struct {
	// Mode is ModeRegular or ModeToken.
	Mode Mode
	// Realms maps a token realm to its 16- or 32-character key (token mode).
	Realms map[string]string
	// TokenValidity is the largest token age accepted when a subscription or a
	// call is created; requests on an existing call only need a valid token,
	// so a long call is not cut off by its token aging. Zero means DefaultTokenValidity.
	TokenValidity time.Duration
	// TokenSkew is how far a token timestamp may lie in the future. Zero means DefaultTokenSkew.
	TokenSkew time.Duration

	// NewAnswerer makes each call's media peer. Required.
	NewAnswerer NewAnswerer

	// RingingDelay is the wait between the callStart response and ringing.
	RingingDelay time.Duration
	// AnswerDelay is the least time between the callStart response and the
	// respondCallUpdate carrying the answer (the answer is also never sent
	// before ringing or before the Answerer is done).
	AnswerDelay time.Duration
	// ReofferDelay is the least time between the response to a client's
	// re-offer (startCallUpdate PUT: hold, unhold) and the respondCallUpdate
	// carrying the answer, which is never sent before that response anyway.
	// A real gateway relays the answer from the far end.
	ReofferDelay time.Duration
	// Ringing sends the ringing notification (DefaultConfig: true).
	Ringing bool
	// RejectRatio is the fraction (0..1) of calls refused (fault injection).
	RejectRatio float64
	// RejectStatus is the status of refused calls; see RejectMode.
	RejectStatus int
	// RejectMode selects how refused calls are refused.
	RejectMode RejectMode

	// SubscriptionExpires is the largest subscription lifetime granted, in
	// seconds; shorter requests are granted as asked. Zero means DefaultSubscriptionExpires.
	SubscriptionExpires int
	// AuditTimeout ends a call (callEnd 408) that has not been audited for this
	// long. Zero disables the check; DefaultConfig sets DefaultAuditTimeout.
	AuditTimeout time.Duration
	// MaxBodyBytes bounds request bodies (413 beyond). Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RemoteName is the callee display name in notifications. Empty means DefaultRemoteName.
	RemoteName string
	// TURNUsername and TURNPassword, when set, are returned as
	// subscriptionParams.turnCredentials.
	TURNUsername, TURNPassword string

	// Logger receives structured logs: per-call events at debug, expiries and
	// shutdown at info, dropped notifications and media failures at warn.
	// Nil discards them.
	Logger *slog.Logger
	// Registerer, when set, gets the gateway's loadgen_gateway_* metrics
	// (pass the registry the gateway's /metrics serves; never a global one).
	// A Registerer serves one Gateway.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of ids and reject draws; nil means crypto/rand.
	Rand io.Reader

	hooks *hooks // test-only pauses; nil in production
}

// hooks lets the package's tests inject pauses at the points where ordering
// matters. Every field may be nil.
type hooks struct {
	beforeFlush  func() // a response is written but not yet flushed
	afterUpgrade func() // a websocket's 101 is out, the socket not yet attached
	afterSweep   func() // the janitor finished a pass
}

// DefaultConfig returns the configuration `loadgen serve` starts from: regular
// mode, ringing on, DefaultRingingDelay, DefaultAnswerDelay,
// DefaultReofferDelay, no rejects
// (RejectStatus DefaultRejectStatus with RejectCallEnd), DefaultAuditTimeout,
// DefaultSubscriptionExpires, DefaultMaxBodyBytes, DefaultTokenValidity and
// DefaultTokenSkew. NewAnswerer must still be set.
func DefaultConfig() Config {
	return Config{
		Mode:                ModeRegular,
		TokenValidity:       DefaultTokenValidity,
		TokenSkew:           DefaultTokenSkew,
		RingingDelay:        DefaultRingingDelay,
		AnswerDelay:         DefaultAnswerDelay,
		ReofferDelay:        DefaultReofferDelay,
		Ringing:             true,
		RejectStatus:        DefaultRejectStatus,
		RejectMode:          RejectCallEnd,
		SubscriptionExpires: DefaultSubscriptionExpires,
		AuditTimeout:        DefaultAuditTimeout,
		MaxBodyBytes:        DefaultMaxBodyBytes,
		RemoteName:          DefaultRemoteName,
	}
}

// validate checks cfg and fills zero-valued optional fields with their defaults.
func (cfg *Config) validate() error {
	if cfg.NewAnswerer == nil {
		return fmt.Errorf("%w: NewAnswerer is required", ErrInvalidConfig)
	}
	if err := cfg.validateMode(); err != nil {
		return err
	}
	if cfg.TokenValidity < 0 || cfg.TokenSkew < 0 {
		return fmt.Errorf("%w: negative token validity or skew", ErrInvalidConfig)
	}
	if cfg.RingingDelay < 0 || cfg.AnswerDelay < 0 || cfg.ReofferDelay < 0 || cfg.AuditTimeout < 0 {
		return fmt.Errorf("%w: negative delay or timeout", ErrInvalidConfig)
	}
	if err := cfg.validateReject(); err != nil {
		return err
	}
	if cfg.SubscriptionExpires < 0 || cfg.MaxBodyBytes < 0 {
		return fmt.Errorf("%w: negative subscription expiry or body limit", ErrInvalidConfig)
	}
	cfg.fillDefaults()
	return nil
}

// validateMode checks the mode and, in token mode, the realms and their keys.
func (cfg *Config) validateMode() error {
	switch cfg.Mode {
	case ModeRegular:
		return nil
	case ModeToken:
		if len(cfg.Realms) == 0 {
			return fmt.Errorf("%w: token mode needs at least one realm", ErrInvalidConfig)
		}
		for realm, key := range cfg.Realms {
			if realm == "" {
				return fmt.Errorf("%w: empty realm name", ErrInvalidConfig)
			}
			if err := token.CheckKey(key); err != nil {
				return fmt.Errorf("%w: realm %q: %w", ErrInvalidConfig, realm, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown mode %d", ErrInvalidConfig, int(cfg.Mode))
	}
}

// validateReject checks the fault-injection settings.
func (cfg *Config) validateReject() error {
	if cfg.RejectRatio < 0 || cfg.RejectRatio > 1 || cfg.RejectRatio != cfg.RejectRatio {
		return fmt.Errorf("%w: reject ratio %v is not within [0, 1]", ErrInvalidConfig, cfg.RejectRatio)
	}
	if cfg.RejectRatio == 0 {
		return nil
	}
	switch cfg.RejectMode {
	case RejectHTTP:
		if cfg.RejectStatus < 400 || cfg.RejectStatus > 599 {
			return fmt.Errorf("%w: reject status %d is not an HTTP error status (400-599)", ErrInvalidConfig, cfg.RejectStatus)
		}
	case RejectCallEnd:
		if cfg.RejectStatus < 1 {
			return fmt.Errorf("%w: reject status %d must be positive", ErrInvalidConfig, cfg.RejectStatus)
		}
	default:
		return fmt.Errorf("%w: unknown reject mode %d", ErrInvalidConfig, int(cfg.RejectMode))
	}
	return nil
}

// fillDefaults sets zero-valued optional fields to their defaults.
func (cfg *Config) fillDefaults() {
	if cfg.TokenValidity == 0 {
		cfg.TokenValidity = DefaultTokenValidity
	}
	if cfg.TokenSkew == 0 {
		cfg.TokenSkew = DefaultTokenSkew
	}
	if cfg.SubscriptionExpires == 0 {
		cfg.SubscriptionExpires = DefaultSubscriptionExpires
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.RemoteName == "" {
		cfg.RemoteName = DefaultRemoteName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
}
