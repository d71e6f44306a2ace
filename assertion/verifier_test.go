package assertion

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyEachAlgorithm verifies, through discovery, an assertion signed
// with each algorithm the gateway offers, and reads every named claim.
func TestVerifyEachAlgorithm(t *testing.T) {
	for _, alg := range DefaultAlgorithms {
		t.Run(alg, func(t *testing.T) {
			k := newTestKey(t, "k-"+alg, alg)
			g := newGateway(t, k)
			clk := newClock()
			v := newTestVerifier(t, g, clk)
			c := claimsAt(g.URL(), clk.now())
			c["role_arn"] = "acs:ram::1000000000000000:role/reader"
			c["cnf"] = map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
			id, err := v.Verify(context.Background(), sign(t, k, c))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Identity{
				Subject: "2000000000000002", Issuer: "https://oauth.aliyun.com", Provider: "aliyun",
				AID: "1000000000000000", UID: "2000000000000002", Type: "user", LoginName: "alice",
				UPN: "alice@example.onaliyun.com", Name: "Alice", Email: "alice@example.com",
				RoleARN: "acs:ram::1000000000000000:role/reader", AssertionIssuer: g.URL(),
				Audience: testAudience, ID: "a1b2c3", KeyID: "k-" + alg, Algorithm: alg,
			}
			got := *id
			got.Scopes, got.Confirmation, got.Claims = nil, nil, nil
			got.IssuedAt, got.ExpiresAt = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("identity\n got %+v\nwant %+v", got, want)
			}
			if !slices.Equal(id.Scopes, []string{"openid", "/acs/alidns"}) || !id.HasScope("/acs/alidns") || id.HasScope("openid /acs/alidns") {
				t.Errorf("scopes %q", id.Scopes)
			}
			if string(id.Confirmation) != `{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}` {
				t.Errorf("cnf %s", id.Confirmation)
			}
			if !id.ExpiresAt.Equal(clk.now().Add(2*time.Minute)) || !id.IssuedAt.Equal(clk.now()) {
				t.Errorf("iat %v exp %v", id.IssuedAt, id.ExpiresAt)
			}
			if g.discoveryHits.Load() != 1 || g.jwksHits.Load() != 1 {
				t.Errorf("discovery %d, jwks %d fetches; want 1 and 1", g.discoveryHits.Load(), g.jwksHits.Load())
			}
		})
	}
}

// TestVerifyFromJWKS uses the key set's URL directly: no discovery request.
func TestVerifyFromJWKS(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k)
	clk := newClock()
	v, err := NewVerifierFromJWKS(g.jwksURL(), g.URL(), testAudience, WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	if g.discoveryHits.Load() != 0 {
		t.Error("a JWKS verifier fetched discovery")
	}
	// The issuer is still checked.
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt("https://other.example", clk.now()))); !errors.Is(err, ErrIssuer) {
		t.Errorf("another issuer: %v, want ErrIssuer", err)
	}
}

// TestDiscoveryKeysOnTheIssuersOrigin refuses a discovery document whose
// jwks_uri is on another origin than the issuer: whoever could alter the
// document (a shared cache, a proxy) would otherwise choose the keys.
func TestDiscoveryKeysOnTheIssuersOrigin(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	attacker := newGateway(t, k) // serves the same key set, elsewhere
	g := newGateway(t, k)
	for _, foreign := range []string{attacker.URL() + "/.well-known/edgeauth/jwks.json", "http://localhost:1/.well-known/edgeauth/jwks.json"} {
		g.mu.Lock()
		g.jwksURI = foreign
		g.mu.Unlock()
		clk := newClock()
		v := newTestVerifier(t, g, clk)
		_, err := v.Verify(context.Background(), sign(t, k, claimsAt(g.URL(), clk.now())))
		if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "another origin") {
			t.Errorf("jwks_uri %s: %v, want ErrKeysUnavailable naming the origin", foreign, err)
		}
		if attacker.jwksHits.Load() != 0 {
			t.Errorf("jwks_uri %s: the foreign key set was fetched", foreign)
		}
	}
}

// TestDiscoveryIssuerMustMatch refuses keys from a discovery document that
// states another issuer (also one differing by a trailing slash).
func TestDiscoveryIssuerMustMatch(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	for _, stated := range []string{"https://evil.example", "SAME/"} {
		g := newGateway(t, k)
		if stated == "SAME/" {
			stated = g.URL() + "/"
		}
		g.mu.Lock()
		g.issuer = stated
		g.mu.Unlock()
		clk := newClock()
		v := newTestVerifier(t, g, clk)
		_, err := v.Verify(context.Background(), sign(t, k, claimsAt(g.URL(), clk.now())))
		if !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "states another issuer") {
			t.Errorf("discovery issuer %q: %v, want ErrKeysUnavailable naming the issuer mismatch", stated, err)
		}
		if g.jwksHits.Load() != 0 {
			t.Errorf("discovery issuer %q: JWKS fetched anyway", stated)
		}
		if err := v.Refresh(context.Background()); !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("Refresh: %v", err)
		}
	}
}

// TestConstructorRefusals checks the configuration errors.
func TestConstructorRefusals(t *testing.T) {
	bad := []struct {
		name string
		make func() (*Verifier, error)
	}{
		{"http issuer off loopback", func() (*Verifier, error) { return NewVerifier("http://gw.example.com", testAudience) }},
		{"relative issuer", func() (*Verifier, error) { return NewVerifier("gw.example.com", testAudience) }},
		{"issuer with user info", func() (*Verifier, error) { return NewVerifier("https://u:p@gw.example.com", testAudience) }},
		{"issuer with fragment", func() (*Verifier, error) { return NewVerifier("https://gw.example.com#x", testAudience) }},
		{"no audience", func() (*Verifier, error) { return NewVerifier("https://gw.example.com", "") }},
		{"JWKS over http", func() (*Verifier, error) {
			return NewVerifierFromJWKS("http://gw.example.com/jwks", "https://gw.example.com", testAudience)
		}},
		{"JWKS without issuer", func() (*Verifier, error) {
			return NewVerifierFromJWKS("https://gw.example.com/jwks", "", testAudience)
		}},
		{"alg none", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithAlgorithms("none"))
		}},
		{"alg HS256", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithAlgorithms("ES256", "HS256"))
		}},
		{"no algs", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithAlgorithms())
		}},
		{"skew too large", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithClockSkew(time.Hour))
		}},
		{"cooldown too small", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithKidCooldown(time.Millisecond))
		}},
		{"max size too small", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithMaxSize(10))
		}},
		{"nil client", func() (*Verifier, error) {
			return NewVerifier("https://gw.example.com", testAudience, WithHTTPClient(nil))
		}},
	}
	for _, c := range bad {
		if v, err := c.make(); err == nil || v != nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	for _, ok := range []string{"https://gw.example.com", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080/"} {
		if _, err := NewVerifier(ok, testAudience); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestNoNetworkUntilUsed: constructing a verifier fetches nothing.
func TestNoNetworkUntilUsed(t *testing.T) {
	g := newGateway(t, newTestKey(t, "k1", "ES256"))
	newTestVerifier(t, g, newClock())
	if g.discoveryHits.Load()+g.jwksHits.Load() != 0 {
		t.Error("NewVerifier fetched")
	}
}
