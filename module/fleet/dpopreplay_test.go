package fleet

import (
	"context"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/dpop"
)

// TestDPoPReplayAcrossClients: a proof key claimed through one client (one
// instance) is refused through another on the same Redis; it expires with
// its window; with Redis down the claim fails (the proof is refused).
func TestDPoPReplayAcrossClients(t *testing.T) {
	rs := startRedis(t)
	a := NewDPoPReplay(newClient(t, rs.addr()))
	b := NewDPoPReplay(newClient(t, rs.addr()))
	ctx := context.Background()
	key := dpop.ReplayKey{1, 2, 3}
	if fresh, err := a.Claim(ctx, key, time.Now().Add(time.Second)); !fresh || err != nil {
		t.Fatalf("first claim: %v %v", fresh, err)
	}
	if fresh, err := b.Claim(ctx, key, time.Now().Add(time.Minute)); fresh || err != nil {
		t.Fatalf("replay on the second instance: %v %v", fresh, err)
	}
	time.Sleep(1200 * time.Millisecond)
	if fresh, err := b.Claim(ctx, key, time.Now().Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("after expiry: %v %v", fresh, err)
	}
	rs.stop()
	if _, err := a.Claim(ctx, dpop.ReplayKey{9}, time.Now().Add(time.Minute)); err == nil {
		t.Fatal("claim succeeded with Redis down")
	}
}
