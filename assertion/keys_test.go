package assertion

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestRotationRefetchesOnce: an assertion with a new kid makes the
// verifier refetch the key set once, and the old key keeps working while
// published.
func TestRotationRefetchesOnce(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	k2 := newTestKey(t, "k2", "ES256")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	g.setKeys(k1, k2) // the gateway rotates: k2 signs, k1 stays published
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, sign(t, k2, claimsAt(g.URL(), clk.now()))); err != nil {
			t.Fatalf("new kid: %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
			t.Fatalf("old kid: %v", err)
		}
	}
	if n := g.jwksHits.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2 (load + one refetch for k2)", n)
	}
	if n := g.discoveryHits.Load(); n != 1 {
		t.Errorf("%d discovery fetches, want 1", n)
	}
	// Once k1 is withdrawn and the keys are refetched, k1 is unknown.
	g.setKeys(k2)
	clk.advance(DefaultKeyLifetime)
	if _, err := v.Verify(ctx, sign(t, k2, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return g.jwksHits.Load() == 3 && !v.keys.refreshing.Load() })
	clk.advance(DefaultKidCooldown)
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("withdrawn kid: %v, want ErrUnknownKey", err)
	}
}

// TestUnknownKidFloodOneFetchPerCooldown: many concurrent assertions with
// unknown kids cost one JWKS fetch per cooldown, shared by all of them.
func TestUnknownKidFloodOneFetchPerCooldown(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.jwksDelay = 50 * time.Millisecond // all of the flood waits on one fetch
	g.mu.Unlock()
	flood := func(round int) {
		var wg sync.WaitGroup
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				forged := newTestKey(t, fmt.Sprintf("bogus-%d-%d", round, i), "EdDSA")
				_, err := v.Verify(ctx, sign(t, forged, claimsAt(g.URL(), clk.now())))
				if !errors.Is(err, ErrUnknownKey) {
					t.Errorf("bogus kid: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	flood(1)
	if n := g.jwksHits.Load(); n != 2 {
		t.Errorf("after the first flood: %d JWKS fetches, want 2 (load + one refetch)", n)
	}
	clk.advance(DefaultKidCooldown - time.Second)
	flood(2)
	if n := g.jwksHits.Load(); n != 2 {
		t.Errorf("within the cooldown: %d JWKS fetches, want still 2", n)
	}
	clk.advance(time.Second)
	flood(3)
	if n := g.jwksHits.Load(); n != 3 {
		t.Errorf("after the cooldown: %d JWKS fetches, want 3", n)
	}
	// A shorter cooldown is honoured.
	g2 := newGateway(t, k1)
	v2 := newTestVerifier(t, g2, clk, WithKidCooldown(2*time.Second))
	forged := newTestKey(t, "other", "EdDSA")
	for i := 0; i < 3; i++ {
		_, _ = v2.Verify(ctx, sign(t, forged, claimsAt(g2.URL(), clk.now())))
		clk.advance(time.Second)
	}
	if n := g2.jwksHits.Load(); n != 3 { // load + refetch at 0s + refetch at 2s
		t.Errorf("2s cooldown over 3s: %d JWKS fetches, want 3", n)
	}
}

// TestFailedFetchKeepsKeys: a gateway that answers errors (or garbage)
// leaves the previous keys in place.
func TestFailedFetchKeepsKeys(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	g.setStatus(http.StatusInternalServerError)
	_, err := v.Verify(ctx, sign(t, newTestKey(t, "k2", "ES256"), claimsAt(g.URL(), clk.now())))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid while the JWKS fails: %v", err)
	}
	if err := v.Refresh(ctx); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("Refresh against a failing JWKS: %v", err)
	}
	clk.advance(DefaultKeyLifetime) // the background refresh fails too
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatalf("known kid after failed refetches: %v", err)
	}
	waitFor(t, func() bool { return !v.keys.refreshing.Load() })
	g.setStatus(0)
	g.setKeys() // an empty set is refused like an error
	if err := v.Refresh(ctx); err == nil {
		t.Error("an empty key set was accepted")
	}
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatalf("known kid after an empty set: %v", err)
	}
}

// TestKeysUnavailable: with the gateway down from the start, Verify says so
// (ErrKeysUnavailable, an outage), tries at most once per second, and
// recovers when the gateway comes back.
func TestKeysUnavailable(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k1)
	g.setStatus(http.StatusBadGateway)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	tok := sign(t, k1, claimsAt(g.URL(), clk.now()))
	for i := 0; i < 10; i++ {
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("gateway down: %v", err)
		}
	}
	if n := g.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS attempts within a second, want 1", n)
	}
	g.setStatus(0)
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("before the retry delay: %v", err)
	}
	clk.advance(time.Second)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Errorf("after the gateway is back: %v", err)
	}
	// A caller whose context ends stops waiting; the shared fetch goes on.
	g2 := newGateway(t, k1)
	g2.mu.Lock()
	g2.jwksDelay = 200 * time.Millisecond
	g2.mu.Unlock()
	v2 := newTestVerifier(t, g2, clk)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := v2.Verify(short, sign(t, k1, claimsAt(g2.URL(), clk.now()))); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("caller gave up: %v", err)
	}
	waitFor(t, func() bool { return v2.keys.keys.Load() != nil })
}

// TestBackgroundRefreshHonoursMaxAge: keys are refetched once their
// Cache-Control max-age (clamped to at least a minute) has passed, in the
// background, once however many requests notice.
func TestBackgroundRefreshHonoursMaxAge(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k1)
	g.mu.Lock()
	g.cacheControl = "public, max-age=5"
	g.mu.Unlock()
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	verify := func() {
		if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
			t.Fatal(err)
		}
	}
	verify()
	clk.advance(59 * time.Second)
	verify()
	if n := g.jwksHits.Load(); n != 1 {
		t.Fatalf("before the clamped max-age: %d fetches", n)
	}
	clk.advance(time.Second)
	for i := 0; i < 20; i++ {
		verify()
	}
	waitFor(t, func() bool { return g.jwksHits.Load() == 2 && !v.keys.refreshing.Load() })
	verify()
	if n := g.jwksHits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// TestKeyLifetime parses Cache-Control.
func TestKeyLifetime(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                    DefaultKeyLifetime,
		"max-age=300":         5 * time.Minute,
		"public, MAX-AGE=120": 2 * time.Minute,
		"max-age=1":           time.Minute,
		"max-age=999999":      24 * time.Hour,
		"max-age=x":           DefaultKeyLifetime,
		"no-store":            DefaultKeyLifetime,
	} {
		if got := keyLifetime(cc, DefaultKeyLifetime); got != want {
			t.Errorf("%q: %s, want %s", cc, got, want)
		}
	}
}

// TestNoRedirectFollowed: the default client does not follow a redirect
// away from the configured gateway.
func TestNoRedirectFollowed(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k1)
	redirector := httptest.NewServer(http.RedirectHandler(g.jwksURL(), http.StatusFound))
	defer redirector.Close()
	clk := newClock()
	v, err := NewVerifierFromJWKS(redirector.URL+"/.well-known/edgeauth/jwks.json", g.URL(), testAudience, WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, k1, claimsAt(g.URL(), clk.now()))); !errors.Is(err, ErrKeysUnavailable) {
		t.Errorf("redirected JWKS: %v", err)
	}
	if g.jwksHits.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRotationConcurrentCallersShareOneFetch: many requests arriving at
// once with a new kid all wait for one shared refetch and all pass.
func TestRotationConcurrentCallersShareOneFetch(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	k2 := newTestKey(t, "k2", "ES256")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, k1, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.keys = []testKey{k1, k2}
	g.jwksDelay = 50 * time.Millisecond
	g.mu.Unlock()
	tok := sign(t, k2, claimsAt(g.URL(), clk.now()))
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Errorf("new kid, concurrent caller: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := g.jwksHits.Load(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2", n)
	}
}

// TestUnknownKidWaitBoundedByContext: a caller whose context ends while the
// shared refetch runs gets ErrKeysUnavailable (503 from the middleware), and
// the refetch still completes for the others.
func TestUnknownKidWaitBoundedByContext(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	k2 := newTestKey(t, "k2", "ES256")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.keys = []testKey{k1, k2}
	g.jwksDelay = 300 * time.Millisecond
	g.mu.Unlock()
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	tok := sign(t, k2, claimsAt(g.URL(), clk.now()))
	if _, err := v.Verify(short, tok); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("caller gave up: %v", err)
	}
	waitFor(t, func() bool { _, ok := v.keys.keys.Load().byID["k2"]; return ok })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("after the shared refetch: %v", err)
	}
}
