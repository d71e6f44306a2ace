package assertion

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentVerify runs valid, forged and unknown-kid assertions from
// many goroutines against a fresh verifier (so the first load races too),
// while the gateway rotates; run it with -race.
func TestConcurrentVerify(t *testing.T) {
	k1 := newTestKey(t, "k1", "ES256")
	k2 := newTestKey(t, "k2", "EdDSA")
	g := newGateway(t, k1)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	ctx := context.Background()
	good1 := sign(t, k1, claimsAt(g.URL(), clk.now()))
	good2 := sign(t, k2, claimsAt(g.URL(), clk.now()))
	forged := sign(t, newTestKey(t, "k1", "ES256"), claimsAt(g.URL(), clk.now()))
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := v.Verify(ctx, good1); err != nil {
					t.Errorf("valid: %v", err)
				}
				if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrSignature) {
					t.Errorf("forged: %v", err)
				}
				bogus := sign(t, newTestKey(t, fmt.Sprintf("x%d", i), "EdDSA"), claimsAt(g.URL(), clk.now()))
				if _, err := v.Verify(ctx, bogus); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("bogus: %v", err)
				}
				if i == 0 && j == 10 {
					g.setKeys(k1, k2)
				}
			}
		}()
	}
	wg.Wait()
	clk.advance(DefaultKidCooldown)
	if _, err := v.Verify(ctx, good2); err != nil {
		t.Errorf("rotated key after the cooldown: %v", err)
	}
	if n := g.discoveryHits.Load(); n != 1 {
		t.Errorf("%d discovery fetches, want 1", n)
	}
	if n := g.jwksHits.Load(); n > 3 {
		t.Errorf("%d JWKS fetches, want at most 3 (load, one refetch, one after the cooldown)", n)
	}
}
