package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"time"
)

// keysTimeout bounds how long a check waits for edgeauth to load the
// provider's keys (it answers 503 until then).
const keysTimeout = 20 * time.Second

// probeResult is one checked answer.
type probeResult struct {
	status            int
	seenAuth, seenSts int // identity and STS headers the upstream received
	body              string
}

// probe sends GET url with the given headers plus probeHeader, so the
// upstream reports the identity headers it got.
func probe(ctx context.Context, url string, hdr map[string]string) (probeResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return probeResult{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.Header.Set(probeHeader, "1")
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return probeResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	r := probeResult{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	r.seenAuth, _ = strconv.Atoi(resp.Header.Get(seenAuthHeader))
	r.seenSts, _ = strconv.Atoi(resp.Header.Get(seenStsHeader))
	return r, nil
}

// probeReady is probe, repeated while edgeauth answers 503 (keys, metadata
// or credentials not there yet), up to keysTimeout.
func probeReady(ctx context.Context, url string, hdr map[string]string) (probeResult, error) {
	deadline := time.Now().Add(keysTimeout)
	for {
		r, err := probe(ctx, url, hdr)
		if err != nil || r.status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return r, err
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// expectation is one enforcement check.
type expectation struct {
	what    string
	hdr     map[string]string
	status  int
	minAuth int // identity headers the upstream must have received
	minSts  int // STS headers the upstream must have received
	maxAuth int // -1: no limit
}

// enforce runs the checks against url and returns an error naming the first
// that fails. Measuring a setup that does not enforce would compare bare
// Caddy with bare Caddy.
func enforce(ctx context.Context, setup, url string, checks []expectation) error {
	for _, c := range checks {
		r, err := probeReady(ctx, url, c.hdr)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", setup, c.what, err)
		}
		switch {
		case r.status != c.status:
			return fmt.Errorf("%s: %s: got status %d, want %d (body %.200q)", setup, c.what, r.status, c.status, r.body)
		case r.seenAuth < c.minAuth:
			return fmt.Errorf("%s: %s: the upstream received %d X-Auth-* headers, want at least %d", setup, c.what, r.seenAuth, c.minAuth)
		case r.seenSts < c.minSts:
			return fmt.Errorf("%s: %s: the upstream received %d X-Sts-* headers, want at least %d", setup, c.what, r.seenSts, c.minSts)
		case c.maxAuth >= 0 && r.seenAuth+r.seenSts > c.maxAuth:
			return fmt.Errorf("%s: %s: the upstream received identity headers it should not have", setup, c.what)
		}
	}
	return nil
}

// bearerChecks: no token → 401, a bad signature → 401, valid → 200 with
// identity headers upstream.
func bearerChecks(valid, invalid string) []expectation {
	return []expectation{
		{what: "valid bearer token", hdr: map[string]string{"Authorization": bearer(valid)}, status: 200, minAuth: 1, maxAuth: -1},
		{what: "no token", status: 401},
		{what: "token with a bad signature", hdr: map[string]string{"Authorization": bearer(invalid)}, status: 401},
	}
}

// bareChecks: bare Caddy proxies to the upstream.
func bareChecks(valid string) []expectation {
	return []expectation{{what: "proxying", hdr: map[string]string{"Authorization": bearer(valid)}, status: 200, maxAuth: 0}}
}

// acquireSession runs the browser login once against the edgeauth-login
// Caddy at base: /oauth2/start → the demo provider's /authorize (which
// approves at once for the login_hint user) → the callback, which sets the
// session cookie → back to /. It returns the Cookie header to replay.
func acquireSession(ctx context.Context, w *world, base string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := w.idpClient()
	c.Jar = jar
	deadline := time.Now().Add(keysTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth2/start?rd=/", nil)
		if err != nil {
			return "", err
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", fmt.Errorf("login flow: %w", err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != upstreamAnswer {
			return "", fmt.Errorf("login flow ended at %s with status %d (body %.200q), want the upstream's 200", resp.Request.URL.Path, resp.StatusCode, b)
		}
		break
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	cookies := jar.Cookies(req.URL)
	if len(cookies) == 0 {
		return "", fmt.Errorf("login flow set no cookie")
	}
	parts := make([]string, len(cookies))
	for i, ck := range cookies {
		parts[i] = ck.Name + "=" + ck.Value
	}
	return strings.Join(parts, "; "), nil
}
