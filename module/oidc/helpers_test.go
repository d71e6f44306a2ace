package oidc

import (
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// testIdP is the test OpenID provider (demoidp) as these tests use it: an
// ES256 key (fast to make), no Cache-Control on the JWKS (so JWKSRefresh
// decides), and its CA written to a file for Config.TLSCA.
type testIdP struct {
	*demoidp.Server
	caPath string // the CA that signed its certificate, for Config.TLSCA
	kid    string // its first signing key
}

// newIdP returns a provider whose listener is bound but which does not
// serve yet; call Start.
func newIdP(t *testing.T, opts demoidp.Options) *testIdP {
	t.Helper()
	if opts.KeyAlg == "" {
		opts.KeyAlg = "ES256"
	}
	s, err := demoidp.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetJWKSCacheControl("")
	caPath, err := s.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &testIdP{Server: s, caPath: caPath, kid: s.CurrentKID()}
}

// startIdP returns a serving provider with default options.
func startIdP(t *testing.T) *testIdP {
	t.Helper()
	idp := newIdP(t, demoidp.Options{})
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	return idp
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestProvider builds a provider for f with fast backoff and a fake clock.
func newTestProvider(t *testing.T, cfg Config) (*Provider, *fakeClock) {
	t.Helper()
	p, err := NewProvider(cfg, nil)
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	p.now = clk.now
	p.backoffMin = 20 * time.Millisecond
	p.backoffMax = 100 * time.Millisecond
	t.Cleanup(func() { _ = p.Destruct() })
	return p, clk
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
