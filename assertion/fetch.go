package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DiscoveryPath is where the gateway publishes its discovery document,
// below the issuer.
const DiscoveryPath = "/.well-known/edgeauth/openid-configuration"

// maxDocumentBytes bounds discovery and JWKS documents.
const maxDocumentBytes = 1 << 20

// Bounds for a key lifetime taken from Cache-Control max-age.
const (
	minKeyLifetime = time.Minute
	maxKeyLifetime = 24 * time.Hour
)

// DiscoveryURL returns where the discovery document of the gateway with
// this issuer is fetched: the issuer with any trailing "/" trimmed, plus
// DiscoveryPath.
func DiscoveryURL(issuer string) string {
	return strings.TrimRight(issuer, "/") + DiscoveryPath
}

// checkURL accepts an absolute https URL, or http on a loopback host (as
// the gateway does for its issuer), without user info or fragment.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("assertion: %s %q is not an absolute URL", what, raw)
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("assertion: %s %q may have neither user info nor a fragment", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("assertion: %s %q: http is allowed only on a loopback host; use https", what, raw)
	}
	return fmt.Errorf("assertion: %s %q: scheme must be https (http only on loopback)", what, raw)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// get fetches a JSON document: status 200, at most maxDocumentBytes.
func (s *keySource) get(ctx context.Context, what, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s URL %q: %v", what, u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetching the %s from %s: %w", what, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, nil, fmt.Errorf("fetching the %s from %s: HTTP %d, want 200", what, u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the %s from %s: %w", what, u, err)
	}
	if len(body) > maxDocumentBytes {
		return nil, nil, fmt.Errorf("the %s from %s is larger than %d bytes", what, u, maxDocumentBytes)
	}
	return body, resp.Header, nil
}

// discover fetches the discovery document and returns its jwks_uri. Its
// issuer must be the configured one, byte for byte: the gateway states
// exactly the issuer it signs with.
func (s *keySource) discover(ctx context.Context) (string, error) {
	u := DiscoveryURL(s.issuer)
	body, _, err := s.get(ctx, "discovery document", u)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return "", fmt.Errorf("the discovery document at %s is not a JSON object with string members issuer and jwks_uri", u)
	}
	if doc.Issuer != s.issuer {
		return "", fmt.Errorf("the discovery document at %s states another issuer than the configured %q; configure the gateway's assertion issuer exactly", u, s.issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("the discovery document at %s has no jwks_uri", u)
	}
	if err := checkURL("jwks_uri", doc.JWKSURI); err != nil {
		return "", fmt.Errorf("the discovery document at %s: %v", u, err)
	}
	// The gateway publishes its keys under its issuer. A jwks_uri on another
	// origin is refused: whoever could alter the document (a shared cache
	// keyed on the wrong Host, a proxy) would otherwise choose the keys.
	if !sameOrigin(doc.JWKSURI, s.issuer) {
		return "", fmt.Errorf("the discovery document at %s names keys on another origin than the issuer %q; use NewVerifierFromJWKS to name a key set elsewhere", u, s.issuer)
	}
	return doc.JWKSURI, nil
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

var errNoJWKSURI = errors.New("jwks_uri is not known yet")

// sameOrigin reports whether two absolute URLs share scheme and host
// (ASCII case-insensitively, port included).
func sameOrigin(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil &&
		strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}
