package token

import (
	"context"
	"net/http"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// TestWithRealProvider verifies tokens against an oidc.Provider that loads
// its keys from the test OpenID provider on loopback TLS.
func TestWithRealProvider(t *testing.T) {
	idp, err := demoidp.New(demoidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Start(); err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.FailEndpoint(demoidp.PathJWKS, http.StatusServiceUnavailable)
	caPath, err := idp.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	p, err := oidc.NewProvider(oidc.Config{Issuer: idp.Issuer(), TLSCA: caPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Destruct()
	rules := testRules()
	rules.Issuer = p.Issuer()
	v := NewVerifier("local", rules, p)
	c := baseClaims()
	c["iss"] = idp.Issuer()
	raw, err := idp.Mint(c)
	if err != nil {
		t.Fatal(err)
	}

	_, err = v.Verify(context.Background(), raw)
	wantErr(t, err, Unavailable, "signing keys not loaded yet")

	idp.FailEndpoint(demoidp.PathJWKS, 0)
	if err := p.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), raw)
	if err != nil || id.Subject != "user-1" {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	rotatedAway, err := idp.Mint(c, demoidp.WithHeader("kid", "rotated-away"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), rotatedAway)
	wantErr(t, err, Invalid, "unknown signing key")
}
