package oidc

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestKeyFetchFailing: KeyFetchFailing follows the latest JWKS fetch: false
// before any and after a success, true after an unknown key ID's refetch
// fails (the keys loaded earlier stay usable), false again once a refetch
// succeeds.
func TestKeyFetchFailing(t *testing.T) {
	idp := startIdP(t)
	p, clk := newTestProvider(t, Config{Issuer: idp.URL(), TLSCA: idp.caPath})
	if p.KeyFetchFailing() {
		t.Fatal("failing before the first fetch")
	}
	p.Start()
	waitFor(t, "keys", func() bool { return p.Status().KeysLoaded == 1 })
	if p.KeyFetchFailing() {
		t.Fatal("failing after the keys loaded")
	}

	idp.FailEndpoint(demoidp.PathJWKS, http.StatusInternalServerError)
	if _, err := p.Key(context.Background(), "rotated"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid while the JWKS fails: %v, want ErrUnknownKey", err)
	}
	if !p.KeyFetchFailing() {
		t.Error("not failing after the unknown kid's refetch failed")
	}
	if k, err := p.Key(context.Background(), idp.kid); err != nil || k.ID != idp.kid {
		t.Errorf("the loaded key after a failed refetch: %+v, %v", k, err)
	}

	idp.FailEndpoint(demoidp.PathJWKS, 0)
	clk.advance(DefaultKidCooldown + time.Second)
	if _, err := p.Key(context.Background(), "rotated"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid after the JWKS is back: %v, want ErrUnknownKey", err)
	}
	if p.KeyFetchFailing() {
		t.Error("still failing after a refetch succeeded")
	}
}
