package assertion

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Defaults used when no Option sets the value.
const (
	// DefaultClockSkew is the tolerance for exp, iat and nbf.
	DefaultClockSkew = 30 * time.Second
	// DefaultKidCooldown is the least time between two key refetches caused
	// by an unknown kid.
	DefaultKidCooldown = 30 * time.Second
	// DefaultKeyLifetime is how long keys are kept when the JWKS response
	// has no Cache-Control max-age.
	DefaultKeyLifetime = time.Hour
	// DefaultHTTPTimeout bounds each discovery or JWKS request.
	DefaultHTTPTimeout = 10 * time.Second
	// DefaultMaxSize is the longest assertion accepted, in bytes.
	DefaultMaxSize = 16 << 10
	// MaxLifetime is the longest exp − iat accepted: the gateway's largest
	// `lifetime`.
	MaxLifetime = time.Hour
	// maxClockSkew bounds WithClockSkew.
	maxClockSkew = 5 * time.Minute
)

// DefaultAlgorithms are the JWS algorithms the gateway signs with, all
// accepted unless WithAlgorithms narrows them.
var DefaultAlgorithms = []string{"ES256", "EdDSA", "RS256", "PS256"}

// config is what the Options set.
type config struct {
	client      *http.Client
	skew        time.Duration
	algs        []string
	cooldown    time.Duration
	maxSize     int
	httpTimeout time.Duration
	now         func() time.Time
}

// Option changes a Verifier's defaults.
type Option func(*config) error

// WithHTTPClient sets the client for discovery and JWKS requests (for a
// private CA, a proxy or a dialer). The default client follows no redirect
// and times out after DefaultHTTPTimeout.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("assertion: WithHTTPClient: nil client")
		}
		cfg.client = c
		return nil
	}
}

// WithClockSkew sets the tolerance for exp, iat and nbf (default 30s, at
// most 5m).
func WithClockSkew(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 || d > maxClockSkew {
			return fmt.Errorf("assertion: WithClockSkew(%s): want 0 to %s", d, maxClockSkew)
		}
		cfg.skew = d
		return nil
	}
}

// WithAlgorithms narrows the accepted algorithms to a subset of
// DefaultAlgorithms (ES256, EdDSA, RS256, PS256). "none", HMAC and every
// other name are refused here, at construction.
func WithAlgorithms(algs ...string) Option {
	return func(cfg *config) error {
		if len(algs) == 0 {
			return fmt.Errorf("assertion: WithAlgorithms: name at least one of %v", DefaultAlgorithms)
		}
		for _, a := range algs {
			if !slices.Contains(DefaultAlgorithms, a) {
				return fmt.Errorf("assertion: WithAlgorithms: %q is not one of %v", a, DefaultAlgorithms)
			}
		}
		cfg.algs = slices.Clone(algs)
		return nil
	}
}

// WithKidCooldown sets the least time between two refetches caused by an
// unknown kid (default 30s, at least 1s).
func WithKidCooldown(d time.Duration) Option {
	return func(cfg *config) error {
		if d < time.Second {
			return fmt.Errorf("assertion: WithKidCooldown(%s): want at least 1s", d)
		}
		cfg.cooldown = d
		return nil
	}
}

// WithMaxSize sets the longest assertion accepted, in bytes (default
// 16 KiB, between 1 KiB and 1 MiB).
func WithMaxSize(n int) Option {
	return func(cfg *config) error {
		if n < 1<<10 || n > 1<<20 {
			return fmt.Errorf("assertion: WithMaxSize(%d): want 1024 to 1048576", n)
		}
		cfg.maxSize = n
		return nil
	}
}

// WithClock sets the clock that exp, iat and nbf are checked against
// (default time.Now), for tests.
func WithClock(now func() time.Time) Option {
	return func(cfg *config) error {
		if now == nil {
			return fmt.Errorf("assertion: WithClock: nil clock")
		}
		cfg.now = now
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	cfg := config{
		skew:        DefaultClockSkew,
		algs:        slices.Clone(DefaultAlgorithms),
		cooldown:    DefaultKidCooldown,
		maxSize:     DefaultMaxSize,
		httpTimeout: DefaultHTTPTimeout,
		now:         time.Now,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return config{}, err
		}
	}
	if cfg.client == nil {
		cfg.client = &http.Client{
			Timeout: cfg.httpTimeout,
			// A redirect would let whoever answers choose where keys come
			// from; the gateway never redirects these endpoints.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return cfg, nil
}
