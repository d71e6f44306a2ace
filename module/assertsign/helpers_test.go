package assertsign

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testSigner builds a signer on a file storage in dir with the clock.
func testSigner(t testing.TB, cfg Config, dir string, clk *clock, signs *atomic.Int64) *Signer {
	t.Helper()
	opts := Options{Storage: &certmagic.FileStorage{Path: dir}}
	if clk != nil {
		opts.Now = clk.now
	}
	if signs != nil {
		opts.OnSign = func() { signs.Add(1) }
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksOf fetches the signer's JWKS through its HTTP handler.
func jwksOf(t testing.TB, s *Signer) jose.JSONWebKeySet {
	t.Helper()
	rec := httptest.NewRecorder()
	if !s.ServeWellKnown(rec, httptest.NewRequest(http.MethodGet, "https://gw.example.com"+JWKSPath, nil)) {
		t.Fatal("the JWKS path was not answered")
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("JWKS: status %d: %s", rec.Code, rec.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatalf("JWKS does not parse with go-jose: %v", err)
	}
	return set
}

// verified checks jws with go-jose (a library this package does not sign
// with) against set, as a backend would at time at, and returns its claims.
func verified(jws string, set jose.JSONWebKeySet, alg, iss, aud string, at time.Time) (map[string]any, string, error) {
	tok, err := josejwt.ParseSigned(jws, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		return nil, "", err
	}
	var std josejwt.Claims
	var all map[string]any
	if err := tok.Claims(set, &std, &all); err != nil {
		return nil, "", err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: iss, AnyAudience: josejwt.Audience{aud}, Time: at}, 0); err != nil {
		return nil, "", err
	}
	return all, tok.Headers[0].KeyID, nil
}

func mustAssertion(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	jws, err := s.Assertion(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return jws
}
