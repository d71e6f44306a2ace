package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
)

// maxResponseBytes bounds discovery and JWKS documents.
const maxResponseBytes = 1 << 20

// Bounds for a JWKS lifetime taken from Cache-Control max-age.
const (
	minKeyLifetime = time.Minute
	maxKeyLifetime = 24 * time.Hour
)

// get fetches a JSON document and returns its body and headers.
func (p *Provider) get(ctx context.Context, what, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s URL %q: %v", what, u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, fmt.Errorf("fetching %s from %s: HTTP %d, want 200", what, u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s from %s: %w", what, u, err)
	}
	if len(body) > maxResponseBytes {
		return nil, nil, fmt.Errorf("%s from %s is larger than %d bytes", what, u, maxResponseBytes)
	}
	return body, resp.Header, nil
}

// DiscoveryURL returns where the discovery document of issuer is fetched:
// the issuer with any trailing "/" trimmed, plus
// "/.well-known/openid-configuration".
func DiscoveryURL(issuer string) string {
	return strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
}

// loadDiscovery fetches and checks the discovery document, applies the
// overrides and publishes the result.
//
// Issuer rule: the document's `issuer` must be identical to the configured
// issuer (OpenID Connect Discovery 1.0 §4.3), with one tolerance: a
// configured issuer with a trailing "/" accepts a document stating it
// without (discovery is fetched from the trimmed issuer anyway). Tokens are
// then checked against the document's string (StatedIssuer), and the
// difference is logged once at info. Any other difference refuses the
// document, and the error says which value to configure.
func (p *Provider) loadDiscovery(ctx context.Context) error {
	u := DiscoveryURL(p.cfg.Issuer)
	body, _, err := p.get(ctx, "discovery document", u)
	if err != nil {
		p.recordError(err)
		return err
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		err = fmt.Errorf("discovery document at %s is not valid JSON: %v", u, err)
		p.recordError(err)
		return err
	}
	if !IssuerMatches(p.cfg.Issuer, m.Issuer) {
		err = fmt.Errorf("discovery document at %s states issuer %q, which differs from the configured issuer %q; configure the issuer exactly as the provider states it", u, truncate(m.Issuer, 200), p.cfg.Issuer)
		p.recordError(err)
		return err
	}
	o := p.cfg.Overrides
	dst := m.endpoints()
	for i, e := range o.endpoints() {
		if *e.ptr != "" {
			*dst[i].ptr = *e.ptr
		}
	}
	if m.JWKSURI == "" {
		err = fmt.Errorf("discovery document at %s has no jwks_uri; set jwks_uri explicitly", u)
		p.recordError(err)
		return err
	}
	if _, err := endpoint.Parse(m.JWKSURI); err != nil {
		err = fmt.Errorf("discovery document at %s: jwks_uri %q: %v", u, truncate(m.JWKSURI, 200), err)
		p.recordError(err)
		return err
	}
	if len(p.thumbprints) > 0 && !strings.HasPrefix(m.JWKSURI, "https:") {
		err = fmt.Errorf("discovery document at %s: jwks_uri %q is not https, so thumbprints cannot be checked", u, m.JWKSURI)
		p.recordError(err)
		return err
	}
	p.setPinHost(m.JWKSURI)
	if m.Issuer != p.cfg.Issuer {
		p.slashOnce.Do(func() {
			p.logger.Info("the discovery document states the issuer without the configured trailing /; tokens must carry the issuer as the document states it",
				zap.String("stated_issuer", m.Issuer))
		})
	}
	p.meta.Store(&m)
	p.logger.Info("OpenID discovery loaded", zap.String("jwks_uri", m.JWKSURI))
	return nil
}

// fetchKeys fetches the JWKS and publishes it. On failure the previous keys
// stay in place (and an unknown key ID is ErrKeysUnreachable until a fetch succeeds).
func (p *Provider) fetchKeys(ctx context.Context) (err error) {
	p.fetchMu.Lock()
	defer p.fetchMu.Unlock()
	defer func() { p.keyFetchFailing.Store(err != nil) }() // runs before the unlock
	uri := p.jwksURI()
	if uri == "" {
		err := errors.New("jwks_uri is not known yet: discovery has not loaded; set jwks_uri to load keys without discovery")
		p.recordError(err)
		return err
	}
	p.jwksFetches.Add(1)
	body, hdr, err := p.get(ctx, "JWKS", uri)
	if err != nil {
		p.recordError(err)
		return err
	}
	ks, err := parseJWKS(body, p.logger)
	if err != nil {
		err = fmt.Errorf("JWKS from %s: %w", uri, err)
		p.recordError(err)
		return err
	}
	if len(ks.all) == 0 {
		err = fmt.Errorf("JWKS from %s holds no usable signing key (RSA ≥ %d bits, EC P-256/384/521 or Ed25519 with use \"sig\")", uri, MinRSABits)
		p.recordError(err)
		return err
	}
	p.keys.Store(ks)
	lifetime := keyLifetime(hdr.Get("Cache-Control"), p.cfg.JWKSRefresh)
	p.mu.Lock()
	p.lastRefresh = p.now()
	p.lastError = ""
	p.nextFetch = time.Now().Add(lifetime)
	p.mu.Unlock()
	p.logger.Debug("JWKS loaded", zap.Int("keys", len(ks.all)), zap.Duration("lifetime", lifetime))
	return nil
}

// keyLifetime returns the Cache-Control max-age clamped to [1m, 24h], or
// def when there is none.
func keyLifetime(cacheControl string, def time.Duration) time.Duration {
	for _, d := range strings.Split(cacheControl, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
			continue
		}
		secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
		if err != nil || secs < 0 {
			return def
		}
		if secs > int64(maxKeyLifetime/time.Second) {
			return maxKeyLifetime
		}
		return max(time.Duration(secs)*time.Second, minKeyLifetime)
	}
	return def
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
