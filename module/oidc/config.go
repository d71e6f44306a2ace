package oidc

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// Defaults used when the corresponding Config field is zero.
const (
	DefaultJWKSRefresh = time.Hour
	DefaultKidCooldown = 30 * time.Second
	DefaultHTTPTimeout = 10 * time.Second

	// MaxThumbprints is the most certificate thumbprints a provider may pin.
	MaxThumbprints = 5
)

// Config describes one OpenID provider.
type Config struct {
	// Issuer is the provider's issuer URL, exactly as its discovery document
	// and its tokens state it.
	Issuer string `json:"issuer"`
	// Overrides holds endpoint URLs that replace the discovered ones (only
	// the non-empty endpoint fields are used). With JWKSURI set, bearer
	// validation works even when discovery fails.
	Overrides Metadata `json:"overrides"`
	// Thumbprints are SHA-1 thumbprints (hex) of certificates, one of which
	// must appear in the TLS chain of the jwks_uri host.
	Thumbprints []string `json:"thumbprints,omitempty"`
	// TLSCA is a PEM file with extra CA certificates trusted for this
	// provider's endpoints (in addition to the system roots).
	TLSCA string `json:"tls_ca,omitempty"`
	// JWKSRefresh is how often keys are refetched when the JWKS response has
	// no Cache-Control max-age (default 1h).
	JWKSRefresh time.Duration `json:"jwks_refresh,omitempty"`
	// KidCooldown is the least time between two refetches triggered by an
	// unknown key ID (default 30s).
	KidCooldown time.Duration `json:"kid_cooldown,omitempty"`
	// HTTPTimeout bounds every request to the provider (default 10s).
	HTTPTimeout time.Duration `json:"http_timeout,omitempty"`
}

// PoolKey returns a stable string that covers every field of the
// configuration, for sharing one Provider through a caddy.UsagePool.
func (c Config) PoolKey() string {
	b, err := json.Marshal(c)
	if err != nil {
		// Config holds only strings, slices of strings and durations:
		// marshalling cannot fail. Fall back to the Go syntax anyway.
		return fmt.Sprintf("oidc:%#v", c)
	}
	return "oidc:" + string(b)
}

func (c Config) withDefaults() Config {
	if c.JWKSRefresh <= 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.KidCooldown <= 0 {
		c.KidCooldown = DefaultKidCooldown
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	return c
}

// endpoints lists the override fields with their configuration names.
func (m *Metadata) endpoints() []struct {
	name string
	ptr  *string
} {
	return []struct {
		name string
		ptr  *string
	}{
		{"authorization_endpoint", &m.AuthorizationEndpoint},
		{"token_endpoint", &m.TokenEndpoint},
		{"userinfo_endpoint", &m.UserinfoEndpoint},
		{"jwks_uri", &m.JWKSURI},
		{"introspection_endpoint", &m.IntrospectionEndpoint},
		{"end_session_endpoint", &m.EndSessionEndpoint},
		{"revocation_endpoint", &m.RevocationEndpoint},
	}
}

// Validate checks the configuration without any network I/O. Its errors
// name the offending field and say how to fix it.
func (c Config) Validate() error {
	if c.Issuer == "" {
		return fmt.Errorf("issuer: missing; set it to the provider's https issuer URL")
	}
	iu, err := endpoint.Parse(c.Issuer)
	if err != nil {
		return fmt.Errorf("issuer %q: %v", c.Issuer, err)
	}
	if iu.RawQuery != "" || iu.ForceQuery {
		return fmt.Errorf("issuer %q: must not have a query; use the issuer URL exactly as the provider states it", c.Issuer)
	}
	if iu.Fragment != "" || strings.Contains(c.Issuer, "#") {
		return fmt.Errorf("issuer %q: must not have a fragment; remove the part from '#'", c.Issuer)
	}
	if iu.User != nil {
		return fmt.Errorf("issuer %q: must not contain user info; remove the part before '@'", c.Issuer)
	}
	if c.Overrides.Issuer != "" && c.Overrides.Issuer != c.Issuer {
		return fmt.Errorf("overrides issuer %q: differs from issuer %q; leave it empty", c.Overrides.Issuer, c.Issuer)
	}
	o := c.Overrides
	for _, e := range o.endpoints() {
		if *e.ptr == "" {
			continue
		}
		u, err := endpoint.Parse(*e.ptr)
		if err != nil {
			return fmt.Errorf("%s %q: %v", e.name, *e.ptr, err)
		}
		if u.User != nil {
			return fmt.Errorf("%s %q: must not contain user info; remove the part before '@'", e.name, *e.ptr)
		}
	}
	if len(c.Thumbprints) > MaxThumbprints {
		return fmt.Errorf("thumbprints: %d given, at most %d are allowed; keep only the certificates in use", len(c.Thumbprints), MaxThumbprints)
	}
	if len(c.Thumbprints) > 0 {
		if iu.Scheme != "https" {
			return fmt.Errorf("thumbprints: not allowed with the http issuer %q; use an https issuer or remove thumbprints", c.Issuer)
		}
		if strings.HasPrefix(strings.ToLower(o.JWKSURI), "http:") {
			return fmt.Errorf("thumbprints: not allowed with the http jwks_uri %q; use https or remove thumbprints", o.JWKSURI)
		}
	}
	for _, t := range c.Thumbprints {
		if _, err := NormalizeThumbprint(t); err != nil {
			return err
		}
	}
	if c.TLSCA != "" && strings.TrimSpace(c.TLSCA) == "" {
		return fmt.Errorf("tls_ca: blank file name; give the path of a PEM file or leave it out")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"jwks_refresh", c.JWKSRefresh}, {"kid_cooldown", c.KidCooldown}, {"http_timeout", c.HTTPTimeout}} {
		if d.v < 0 {
			return fmt.Errorf("%s %s: must not be negative; leave it out for the default", d.name, d.v)
		}
	}
	return nil
}

// Warnings returns advice about a configuration that is valid but not fit
// for production (an http issuer or endpoint on a loopback host).
func (c Config) Warnings() []string {
	var w []string
	if u, err := url.Parse(c.Issuer); err == nil && u.Scheme == "http" {
		w = append(w, fmt.Sprintf("issuer %q uses plain http; this is only acceptable for local development", c.Issuer))
	}
	o := c.Overrides
	for _, e := range o.endpoints() {
		if u, err := url.Parse(*e.ptr); err == nil && u.Scheme == "http" {
			w = append(w, fmt.Sprintf("%s %q uses plain http; this is only acceptable for local development", e.name, *e.ptr))
		}
	}
	return w
}

// NormalizeThumbprint accepts a SHA-1 thumbprint in upper or lower case hex,
// optionally colon-separated, and returns it as 40 lowercase hex digits.
func NormalizeThumbprint(s string) (string, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	if len(t) != 40 {
		return "", fmt.Errorf("thumbprint %q: must be 40 hex digits (the SHA-1 of the certificate), got %d", s, len(t))
	}
	if _, err := hex.DecodeString(t); err != nil {
		return "", fmt.Errorf("thumbprint %q: must contain only hex digits 0-9 and a-f (colons allowed)", s)
	}
	return t, nil
}
