package assertsign

import (
	"fmt"
	"net/url"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// Algorithms the gateway signs with.
const (
	ES256 = "ES256" // ECDSA P-256 with SHA-256 (default)
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSA PKCS #1 v1.5 with SHA-256
	PS256 = "PS256" // RSA-PSS with SHA-256
)

// Defaults and bounds of the `assertion` global option.
const (
	DefaultAlgorithm = ES256
	DefaultLifetime  = 2 * time.Minute
	MinLifetime      = 30 * time.Second
	MaxLifetime      = time.Hour
	DefaultRotate    = 720 * time.Hour
	// MinRotate is the shortest rotation period. A key must sign for at
	// least one lifetime, so rotate is also never shorter than lifetime.
	MinRotate = 30 * time.Second
	// minRSABits is the smallest RSA key accepted from a key_file.
	minRSABits = 2048
)

// Config is the `assertion` block of the edgeauth global option.
type Config struct {
	// Issuer is the assertion's `iss`: an https URL (http only for
	// loopback hosts), without query, fragment or user info.
	Issuer string `json:"issuer,omitempty"`
	// Algorithm is ES256 (default), EdDSA, RS256 or PS256.
	Algorithm string `json:"algorithm,omitempty"`
	// Lifetime is how long an assertion is valid: 30s to 1h, default 2m.
	Lifetime time.Duration `json:"-"`
	// Rotate is how often a generated key is replaced: default 720h, at
	// least 30s and at least Lifetime. Ignored with KeyFile.
	Rotate time.Duration `json:"-"`
	// KeyFile is a PEM private key (EC P-256, Ed25519 or RSA ≥ 2048 bits,
	// matching Algorithm) used instead of generated keys.
	KeyFile string `json:"key_file,omitempty"`
}

// WithDefaults returns c with the defaults filled in.
func (c Config) WithDefaults() Config {
	if c.Algorithm == "" {
		c.Algorithm = DefaultAlgorithm
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.Rotate == 0 {
		c.Rotate = DefaultRotate
	}
	return c
}

// Validate checks a configuration with its defaults filled in. Its errors
// name the option and the fix.
func (c Config) Validate() error {
	if c.Issuer == "" {
		return fmt.Errorf("assertion: `issuer <https URL>` is required, e.g. `issuer https://gw.example.com` (the `iss` backends check)")
	}
	if err := checkIssuer(c.Issuer); err != nil {
		return fmt.Errorf("assertion issuer %q: %v", c.Issuer, err)
	}
	if _, err := methodFor(c.Algorithm); err != nil {
		return fmt.Errorf("assertion algorithm: %v", err)
	}
	if c.Lifetime < MinLifetime || c.Lifetime > MaxLifetime {
		return fmt.Errorf("assertion lifetime %s: must be between %s and %s (default %s)", c.Lifetime, MinLifetime, MaxLifetime, DefaultLifetime)
	}
	if c.KeyFile == "" {
		if c.Rotate < MinRotate || c.Rotate < c.Lifetime {
			return fmt.Errorf("assertion rotate %s: must be at least %s and at least the lifetime (%s); the default is %s", c.Rotate, MinRotate, c.Lifetime, DefaultRotate)
		}
	}
	return nil
}

// IsHTTP reports whether the issuer uses plain http (loopback only), which
// deserves a warning at load.
func (c Config) IsHTTP() bool {
	u, err := url.Parse(c.Issuer)
	return err == nil && u.Scheme == "http"
}

// checkIssuer accepts an absolute https URL, or http on a loopback host,
// without query, fragment or user info.
func checkIssuer(s string) error {
	u, err := endpoint.Parse(s)
	if err != nil {
		return err
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("must have no user info, query or fragment; give the gateway's base URL")
	}
	return nil
}
