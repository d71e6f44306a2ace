package oidc

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestUnknownKeyWhileKeysUnreachable: an unknown key ID is ErrUnknownKey
// while the JWKS can be fetched, and ErrKeysUnreachable (an outage, 503)
// after the refetch it caused failed — the keys loaded earlier stay usable
// — until a refetch succeeds again.
func TestUnknownKeyWhileKeysUnreachable(t *testing.T) {
	idp := startIdP(t)
	p, clk := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	if _, err := p.Key(context.Background(), "rotated"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid with the JWKS reachable: %v, want ErrUnknownKey", err)
	}

	idp.FailEndpoint(demoidp.PathJWKS, http.StatusInternalServerError)
	clk.advance(DefaultKidCooldown + time.Second)
	if _, err := p.Key(context.Background(), "rotated"); !errors.Is(err, ErrKeysUnreachable) {
		t.Fatalf("unknown kid while the JWKS fails: %v, want ErrKeysUnreachable", err)
	}
	if k, err := p.Key(context.Background(), idp.kid); err != nil || k.ID != idp.kid {
		t.Errorf("the loaded key after a failed refetch: %+v, %v", k, err)
	}
	// Within the cooldown no new fetch is made; the last one failed.
	if _, err := p.Key(context.Background(), "other"); !errors.Is(err, ErrKeysUnreachable) {
		t.Errorf("unknown kid within the cooldown after a failed fetch: %v, want ErrKeysUnreachable", err)
	}

	idp.FailEndpoint(demoidp.PathJWKS, 0)
	clk.advance(DefaultKidCooldown + time.Second)
	if _, err := p.Key(context.Background(), "rotated"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid after the JWKS is back: %v, want ErrUnknownKey", err)
	}
}
