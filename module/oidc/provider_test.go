package oidc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

func TestBackgroundLoad(t *testing.T) {
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})

	if _, err := p.Key(context.Background(), idp.kid); !errors.Is(err, ErrKeysNotLoaded) {
		t.Fatalf("before Start: Key = %v, want ErrKeysNotLoaded", err)
	}
	if idp.Counts().All != 0 {
		t.Fatal("NewProvider made network requests")
	}
	p.Start()
	p.Start() // idempotent
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	k, err := p.Key(context.Background(), idp.kid)
	if err != nil || k.ID != idp.kid {
		t.Fatalf("Key(k1) = %+v, %v", k, err)
	}
	m, ok := p.Metadata()
	if !ok || m.TokenEndpoint != idp.URL()+"/token" || m.Issuer != idp.URL() {
		t.Fatalf("Metadata() = %+v, %v", m, ok)
	}
	st := p.Status()
	if !st.MetadataLoaded || st.JWKSFetches != 1 || st.LastError != "" || st.LastRefresh.IsZero() {
		t.Fatalf("Status() = %+v", st)
	}
	if idp.Counts().Discovery != 1 || idp.Counts().JWKS != 1 {
		t.Fatalf("discovery hits %d, JWKS hits %d; want 1 and 1", idp.Counts().Discovery, idp.Counts().JWKS)
	}
	if got := p.Keys(); len(got) != 1 || got[0].ID != idp.kid {
		t.Fatalf("Keys() = %+v", got)
	}
}

func TestUnreachableAtStartThenUp(t *testing.T) {
	idp := newIdP(t, demoidp.Options{}) // listener bound, nothing served yet
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, HTTPTimeout: 200 * time.Millisecond})
	p.Start()
	waitFor(t, "a failed attempt", func() bool { return p.Status().LastError != "" })
	if _, err := p.Key(context.Background(), idp.kid); !errors.Is(err, ErrKeysNotLoaded) {
		t.Fatalf("while down: Key = %v, want ErrKeysNotLoaded", err)
	}
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "keys after the provider came up", func() bool { return p.Status().KeysLoaded == 1 })
	if _, err := p.Key(context.Background(), idp.kid); err != nil {
		t.Fatalf("Key after recovery: %v", err)
	}
	if st := p.Status(); st.LastError != "" {
		t.Fatalf("LastError after recovery = %q", st.LastError)
	}
}

func TestRefreshFailureKeepsOldKeys(t *testing.T) {
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, JWKSRefresh: 30 * time.Millisecond})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	idp.FailEndpoint(demoidp.PathJWKS, http.StatusInternalServerError)
	before := idp.Counts().JWKS
	waitFor(t, "two failed refreshes", func() bool { return idp.Counts().JWKS >= before+2 })
	st := p.Status()
	if st.KeysLoaded != 1 || !strings.Contains(st.LastError, "HTTP 500") {
		t.Fatalf("Status after failed refresh = %+v", st)
	}
	if _, err := p.Key(context.Background(), idp.kid); err != nil {
		t.Fatalf("old key lost after failed refresh: %v", err)
	}
	if err := p.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a failing JWKS returned nil")
	}
	// Scheduled refresh picks up rotated keys once the JWKS is back.
	k2 := idp.AddKey("ES256")
	idp.RemoveKey(idp.kid)
	idp.FailEndpoint(demoidp.PathJWKS, 0)
	waitFor(t, "rotated key", func() bool { _, ok := p.keys.Load().byID[k2]; return ok })
	if !p.lastKidFetchForTest().IsZero() {
		t.Fatal("scheduled refreshes started the kid cooldown")
	}
}

func (p *Provider) lastKidFetchForTest() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastKidFetch
}

func TestCacheControlMaxAge(t *testing.T) {
	idp := startIdP(t)
	idp.SetJWKSCacheControl("public, max-age=600")
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, JWKSRefresh: 10 * time.Millisecond})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := idp.Counts().JWKS; n != 1 {
		t.Fatalf("JWKS fetched %d times within max-age=600, want 1", n)
	}
}

// unknownKidFlood asks for n distinct unknown kids at once and returns how
// many of them failed with ErrUnknownKey.
func unknownKidFlood(p *Provider, n int, prefix string) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	unknown := 0
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := p.Key(context.Background(), fmt.Sprintf("%s-%d", prefix, i))
			if errors.Is(err, ErrUnknownKey) {
				mu.Lock()
				unknown++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return unknown
}

func TestUnknownKidCooldown(t *testing.T) {
	idp := startIdP(t)
	idp.SetHang(20 * time.Millisecond) // let the flood pile up on one fetch
	p, clk := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	base := idp.Counts().JWKS // the start-up fetch

	if got := unknownKidFlood(p, 200, "a"); got != 200 {
		t.Fatalf("%d of 200 unknown kids reported ErrUnknownKey", got)
	}
	if n := idp.Counts().JWKS - base; n != 1 {
		t.Fatalf("200 unknown kids caused %d JWKS fetches, want exactly 1", n)
	}
	clk.advance(29 * time.Second)
	unknownKidFlood(p, 200, "b")
	if n := idp.Counts().JWKS - base; n != 1 {
		t.Fatalf("within the cooldown: %d JWKS fetches, want still 1", n)
	}
	clk.advance(2 * time.Second) // 31s after the refetch
	unknownKidFlood(p, 200, "c")
	if n := idp.Counts().JWKS - base; n != 2 {
		t.Fatalf("after the cooldown: %d JWKS fetches, want 2", n)
	}

	// A new key published by the IdP is found by the next allowed refetch.
	newKID := idp.AddKey("ES256")
	if _, err := p.Key(context.Background(), newKID); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new kid inside the cooldown: %v, want ErrUnknownKey", err)
	}
	clk.advance(31 * time.Second)
	if k, err := p.Key(context.Background(), newKID); err != nil || k.ID != newKID {
		t.Fatalf("new kid after the cooldown: %+v, %v", k, err)
	}
}

func TestStartupAndRefreshDoNotStartCooldown(t *testing.T) {
	idp := startIdP(t)
	p, clk := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	// Right after the start-up fetch, an unknown kid still refetches.
	if _, err := p.Key(context.Background(), "x"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if n := idp.Counts().JWKS; n != 2 {
		t.Fatalf("JWKS hits = %d, want 2 (start-up + unknown kid)", n)
	}
	clk.advance(31 * time.Second)
	if err := p.Refresh(context.Background()); err != nil { // same path as the scheduled refresh
		t.Fatal(err)
	}
	if _, err := p.Key(context.Background(), "y"); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if n := idp.Counts().JWKS; n != 4 {
		t.Fatalf("JWKS hits = %d, want 4 (a forced refresh must not start the cooldown)", n)
	}
}

func TestKeyHonoursContext(t *testing.T) {
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	idp.SetHang(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Key(ctx, "slow")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("Key with a short deadline = %v after %v", err, time.Since(start))
	}
}

func TestThumbprints(t *testing.T) {
	caPrint := func(idp *testIdP) string { return Thumbprint(idp.CACert()) }
	for _, tc := range []struct {
		name   string
		print  func(*testIdP) string
		leafOK bool // serve only the leaf (the CA is then only in the verified chain)
		ok     bool
	}{
		{"CA thumbprint, CA in presented chain", caPrint, false, true},
		{"CA thumbprint, CA only in verified chain", func(idp *testIdP) string { return strings.ToUpper(caPrint(idp)) }, true, true},
		{"leaf thumbprint", func(idp *testIdP) string { return Thumbprint(idp.LeafCert()) }, false, true},
		{"mismatch", func(*testIdP) string { return strings.Repeat("ab", 20) }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := newIdP(t, demoidp.Options{TLSLeafOnly: tc.leafOK})
			if err := idp.Start(); err != nil {
				t.Fatal(err)
			}
			p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath,
				Thumbprints: []string{tc.print(idp)}, Overrides: Metadata{JWKSURI: idp.URL() + "/jwks"}})
			err := p.Refresh(context.Background())
			if tc.ok {
				if err != nil || p.Status().KeysLoaded != 1 {
					t.Fatalf("Refresh = %v, keys %d", err, p.Status().KeysLoaded)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "thumbprint did not match") {
				t.Fatalf("Refresh with a wrong thumbprint = %v, want a thumbprint error", err)
			}
			if !strings.Contains(p.Status().LastError, "thumbprint did not match") || p.Status().KeysLoaded != 0 {
				t.Fatalf("Status = %+v", p.Status())
			}
			// Other hosts reached through the same client are not pinned:
			// the same server as localhost:port is another host to the pin.
			_, port, _ := net.SplitHostPort(idp.Addr())
			resp, err := p.HTTPClient().Get("https://localhost:" + port + "/jwks")
			if err != nil {
				t.Fatalf("unpinned host through HTTPClient: %v", err)
			}
			resp.Body.Close()
		})
	}
}

func TestThumbprintPinsDiscoveredJWKSHost(t *testing.T) {
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, Thumbprints: []string{strings.Repeat("0", 40)}})
	p.Start()
	waitFor(t, "discovery", func() bool { return p.Status().MetadataLoaded })
	waitFor(t, "a failed JWKS fetch", func() bool { return strings.Contains(p.Status().LastError, "thumbprint did not match") })
	if p.Status().KeysLoaded != 0 {
		t.Fatal("keys loaded despite a thumbprint mismatch")
	}
}

func TestTLSCA(t *testing.T) {
	if _, err := NewProvider(Config{Issuer: "https://idp.example.com", TLSCA: "/nonexistent/ca.pem"}, nil); err == nil ||
		!strings.Contains(err.Error(), `tls_ca "/nonexistent/ca.pem": cannot read`) {
		t.Fatalf("missing tls_ca: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)
	if _, err := NewProvider(Config{Issuer: "https://idp.example.com", TLSCA: junk}, nil); err == nil ||
		!strings.Contains(err.Error(), "no PEM certificate") || !strings.Contains(err.Error(), junk) {
		t.Fatalf("junk tls_ca: %v", err)
	}
	if _, err := NewProvider(Config{Issuer: "http://idp.example.com"}, nil); err == nil {
		t.Fatal("NewProvider accepted an invalid config")
	}

	// Without tls_ca the test CA is not trusted.
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL()})
	if err := p.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted CA: %v", err)
	}
}

func TestIssuerMismatch(t *testing.T) {
	for _, tc := range []struct{ configured, stated func(url string) string }{
		{func(u string) string { return u }, func(u string) string { return u + "/" }},
		{func(u string) string { return u + "/" }, func(u string) string { return u + "/x" }},
		{func(u string) string { return u + "/" }, func(u string) string { return strings.ToUpper(u) }},
		{func(u string) string { return u }, func(string) string { return "https://evil.example.com" }},
	} {
		idp := startIdP(t)
		idp.SetStatedIssuer(tc.stated(idp.URL()))
		p, _ := newTestProvider(t, Config{Issuer: tc.configured(idp.URL()), TLSCA: idp.caPath})
		err := p.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), "differs from the configured issuer") {
			t.Fatalf("configured %q, stated %q: Refresh = %v", tc.configured(idp.URL()), tc.stated(idp.URL()), err)
		}
		if _, ok := p.Metadata(); ok || idp.Counts().JWKS != 0 {
			t.Fatal("metadata or keys loaded despite an issuer mismatch")
		}
	}
	// Trailing slash on both sides is fine; discovery is fetched without it.
	idp := startIdP(t)
	idp.SetStatedIssuer(idp.URL() + "/")
	p, _ := newTestProvider(t, Config{Issuer: idp.URL() + "/", TLSCA: idp.caPath})
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.StatedIssuer() != idp.URL()+"/" || p.TokenIssuer() != idp.URL()+"/" {
		t.Errorf("stated %q, token issuer %q", p.StatedIssuer(), p.TokenIssuer())
	}
}

// TestIssuerTrailingSlashTrimmed: a provider configured with a trailing "/"
// whose discovery document states the issuer without it loads; tokens must
// then carry the stated string, and the difference is logged once at info.
func TestIssuerTrailingSlashTrimmed(t *testing.T) {
	idp := startIdP(t)
	idp.SetStatedIssuer(idp.URL()) // as it is by default: without the configured "/"
	core, logs := observer.New(zapcore.DebugLevel)
	p, err := NewProvider(Config{Issuer: idp.URL() + "/", TLSCA: idp.caPath}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Destruct() })
	if p.StatedIssuer() != "" || p.TokenIssuer() != idp.URL()+"/" {
		t.Errorf("before discovery: stated %q, token issuer %q", p.StatedIssuer(), p.TokenIssuer())
	}
	for range 2 {
		p.meta.Store(nil) // load the document twice: one log line
		if err := p.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if p.Issuer() != idp.URL()+"/" || p.StatedIssuer() != idp.URL() || p.TokenIssuer() != idp.URL() {
		t.Errorf("configured %q, stated %q, token issuer %q", p.Issuer(), p.StatedIssuer(), p.TokenIssuer())
	}
	lines := logs.FilterMessageSnippet("without the configured trailing /").All()
	if len(lines) != 1 || lines[0].Level != zapcore.InfoLevel || lines[0].ContextMap()["stated_issuer"] != idp.URL() {
		t.Errorf("log lines %+v, want one at info naming the stated issuer", lines)
	}
}

func TestIssuerMatches(t *testing.T) {
	for _, c := range []struct {
		configured, stated string
		want               bool
	}{
		{"https://idp.example", "https://idp.example", true},
		{"https://idp.example/", "https://idp.example/", true},
		{"https://idp.example/", "https://idp.example", true},
		{"https://idp.example/t/", "https://idp.example/t", true},
		{"https://idp.example", "https://idp.example/", false},
		{"https://idp.example/", "https://idp.example/x", false},
		{"https://idp.example/", "https://IDP.example", false},
		{"https://idp.example/", "", false},
		{"https://idp.example/", "https://idp.example ", false},
	} {
		if got := IssuerMatches(c.configured, c.stated); got != c.want {
			t.Errorf("IssuerMatches(%q, %q) = %v, want %v", c.configured, c.stated, got, c.want)
		}
	}
}

func TestOverridesWithoutDiscovery(t *testing.T) {
	idp := startIdP(t)
	idp.FailEndpoint(demoidp.PathDiscovery, http.StatusServiceUnavailable)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath,
		Overrides: Metadata{JWKSURI: idp.URL() + "/jwks", TokenEndpoint: idp.URL() + "/tok"}})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	m, ok := p.Metadata()
	if !ok || m.TokenEndpoint != idp.URL()+"/tok" || m.Issuer != idp.URL() {
		t.Fatalf("Metadata() = %+v, %v", m, ok)
	}
	// Discovery keeps being retried; once it answers, its other endpoints
	// appear and the overrides still win.
	idp.FailEndpoint(demoidp.PathDiscovery, 0)
	waitFor(t, "discovery", func() bool { return p.meta.Load() != nil })
	m, _ = p.Metadata()
	if m.TokenEndpoint != idp.URL()+"/tok" || m.AuthorizationEndpoint != idp.URL()+"/authorize" {
		t.Fatalf("merged metadata = %+v", m)
	}

	// jwks_uri alone: keys load, but Metadata is not complete.
	idp2 := startIdP(t)
	idp2.FailEndpoint(demoidp.PathDiscovery, http.StatusServiceUnavailable)
	p2, _ := newTestProvider(t, Config{Issuer: idp2.URL(), TLSCA: idp2.caPath, Overrides: Metadata{JWKSURI: idp2.URL() + "/jwks"}})
	p2.Start()
	waitFor(t, "keys", func() bool { return p2.Status().KeysLoaded == 1 })
	if _, ok := p2.Metadata(); ok {
		t.Fatal("Metadata reported ok with only jwks_uri and no discovery")
	}
}

func TestNoRedirects(t *testing.T) {
	idp := startIdP(t)
	idp.Handle("/moved/jwks", http.RedirectHandler(idp.URL()+"/jwks", http.StatusFound))
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, Overrides: Metadata{JWKSURI: idp.URL() + "/moved/jwks"}})
	if err := p.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("redirecting JWKS: %v", err)
	}
	if idp.Counts().JWKS != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestDestructStopsGoroutine(t *testing.T) {
	idp := startIdP(t)
	p, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath, JWKSRefresh: 10 * time.Millisecond})
	p.Start()
	waitFor(t, "several refreshes", func() bool { return idp.Counts().JWKS >= 3 })
	if err := p.Destruct(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("Destruct returned before the goroutine ended")
	}
	hits := idp.Counts().All
	time.Sleep(60 * time.Millisecond)
	if idp.Counts().All != hits {
		t.Fatal("requests continued after Destruct")
	}
	p.Start() // no effect after Destruct
	time.Sleep(30 * time.Millisecond)
	if idp.Counts().All != hits {
		t.Fatal("Start after Destruct restarted the provider")
	}
	if err := p.Destruct(); err != nil { // idempotent
		t.Fatal(err)
	}

	// Destruct without Start does not block.
	q, _ := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	doneC := make(chan struct{})
	go func() { q.Destruct(); close(doneC) }()
	select {
	case <-doneC:
	case <-time.After(2 * time.Second):
		t.Fatal("Destruct of an unstarted provider blocked")
	}
}
