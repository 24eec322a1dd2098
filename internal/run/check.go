package run

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/loadgen/loadgen/internal/call"
	"github.com/loadgen/loadgen/internal/media"
	"github.com/loadgen/loadgen/internal/scenario"
	"github.com/loadgen/loadgen/internal/token"
)

// ErrInvalid marks a problem with the scenario or the run's options, found
// before anything starts (the CLI's exit code 2).
var ErrInvalid = errors.New("invalid scenario or options")

// Problems is every problem Check found; errors.Is(p, ErrInvalid) holds and
// errors.As finds each *scenario.FieldError.
type Problems []error

// Error lists the problems, one per line.
func (p Problems) Error() string {
	s := make([]string, len(p))
	for i, e := range p {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems and ErrInvalid.
func (p Problems) Unwrap() []error { return append(append([]error{}, p...), ErrInvalid) }

// invalid wraps a single problem.
func invalid(err error) error { return Problems{err} }

// Overrides are command-line replacements of scenario values, for CI jobs
// that scale one scenario. A nil field leaves the file's value.
type Overrides struct {
	// Rate replaces load.rate (open model without stages).
	Rate *float64
	// Duration replaces load.duration (open model without stages, or the
	// closed model).
	Duration *time.Duration
	// MaxCalls replaces load.max_calls.
	MaxCalls *uint64
	// MediaEngine replaces call.media_engine.
	MediaEngine *scenario.MediaEngine
}

// ApplyOverrides sets the overridden values on s and validates the scenario
// again, exactly as if the file had said them; a problem names the flag.
func ApplyOverrides(s *scenario.Scenario, o Overrides) error {
	var errs Problems
	l := &s.Load
	if o.Rate != nil {
		switch {
		case l.Closed():
			errs = append(errs, errors.New("--rate: the scenario uses the closed model (load.concurrent)"))
		case len(l.Stages) > 0:
			errs = append(errs, errors.New("--rate: the scenario ramps with load.stages; edit the stages instead"))
		default:
			l.Rate = *o.Rate
		}
	}
	if o.Duration != nil {
		if len(l.Stages) > 0 {
			errs = append(errs, errors.New("--duration: the scenario's load.stages set its duration"))
		} else {
			l.Duration = *o.Duration
		}
	}
	if o.MaxCalls != nil {
		l.MaxCalls = *o.MaxCalls
	}
	if o.MediaEngine != nil {
		s.Call.MediaEngine = *o.MediaEngine
	}
	if len(errs) > 0 {
		return errs
	}
	flags := map[string]string{"load.rate": "--rate", "load.duration": "--duration", "load.max_calls": "--max-calls", "call.media_engine": "--media-engine"}
	for _, err := range s.Validate() {
		var fe *scenario.FieldError
		if errors.As(err, &fe) {
			if f, ok := flags[fe.Path]; ok && overridden(o, f) {
				err = fmt.Errorf("%s: %s (set by %s)", fe.Path, fe.Msg, f)
			}
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func overridden(o Overrides, flag string) bool {
	switch flag {
	case "--rate":
		return o.Rate != nil
	case "--duration":
		return o.Duration != nil
	case "--media-engine":
		return o.MediaEngine != nil
	default:
		return o.MaxCalls != nil
	}
}

// provisions is what Check derives from a scenario for the run to use.
type provisions struct {
	key    string             // token mode's key
	engine media.EngineConfig // media files loaded
}

// Check makes every check a run makes before it starts anything, so that
// `loadgen validate` and `loadgen run` agree: the media files decode, token
// mode's key is set and has a valid length, ended_by gateway has the
// embedded gateway to end calls, and the metrics address (the flag's, when
// given, else the file's) is host:port. getenv reads the token key.
func Check(s *scenario.Scenario, getenv func(string) string, metricsListen string) error {
	_, err := check(s, getenv, metricsListen)
	return err
}

func check(s *scenario.Scenario, getenv func(string) string, metricsListen string) (provisions, error) {
	var p provisions
	var errs Problems
	if s.Mode == scenario.ModeToken && s.Token != nil {
		k, err := s.Token.Key(getenv)
		switch {
		case err != nil:
			errs = append(errs, s.Errorf("token.key_env", "environment variable %s is not set: it must hold the 16- or 32-character token key", s.Token.KeyEnv))
		case token.CheckKey(k) != nil:
			errs = append(errs, s.Errorf("token.key_env", "the key in %s: %v", s.Token.KeyEnv, token.CheckKey(k)))
		default:
			p.key = k
		}
	}
	if s.Call.EndedBy == scenario.EndedByGateway && !s.Target.Embedded() {
		errs = append(errs, s.Errorf("call.ended_by", `"gateway" needs the built-in gateway (no target): loadgen cannot make an external gateway end its calls`))
	}
	ecfg, err := call.NewEngineConfig(s)
	if err != nil {
		path := "call.video_file"
		if strings.Contains(err.Error(), "audio") {
			path = "call.audio_file"
		}
		errs = append(errs, s.Errorf(path, "%v", err))
	}
	p.engine = ecfg
	if metricsListen != "" {
		if err := checkHostPort(metricsListen); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-listen: %w", err))
		}
	}
	if len(errs) > 0 {
		return p, errs
	}
	return p, nil
}

// checkHostPort checks that addr is host:port with a port number.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port such as 127.0.0.1:9464 or :9464, got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a port number", port)
	}
	return nil
}
