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
	idp := demoidp.ForTest(t, demoidp.Options{})
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
	raw := idp.MintForTest(t, c)

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
	_, err = v.Verify(context.Background(), idp.MintForTest(t, c, demoidp.WithHeader("kid", "rotated-away")))
	wantErr(t, err, Invalid, "unknown signing key")
}
