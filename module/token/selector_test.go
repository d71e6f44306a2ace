package token

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

func TestSelector(t *testing.T) {
	k := getKeys()
	ctx := context.Background()
	r1 := testRules()
	r2 := testRules()
	r2.Issuer = "https://second.example.com"
	r2.Algorithms = []string{"ES256"}
	// Each provider publishes only its own key.
	ks1 := newKeySource()
	s := NewSelector(NewVerifier("one", r1, ks1), NewVerifier("two", r2, onlyKey(ks1, "p256")))

	id, err := s.Verify(ctx, signRSA(t, baseClaims()))
	if err != nil || id.Provider != "one" {
		t.Fatalf("first issuer: %+v, %v", id, err)
	}
	c := baseClaims()
	c["iss"] = r2.Issuer
	id, err = s.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "p256", c, nil))
	if err != nil || id.Provider != "two" || id.Issuer != r2.Issuer {
		t.Fatalf("second issuer: %+v, %v", id, err)
	}
	// The second provider's rules apply: RS256 is not allowed there, and
	// it does not know the first provider's key.
	_, err = s.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", c, nil))
	wantErr(t, err, Invalid, "algorithm RS256 not allowed")

	c["iss"] = "https://evil.example.com"
	_, err = s.Verify(ctx, signRSA(t, c))
	wantErr(t, err, Invalid, "issuer not trusted")
	delete(c, "iss")
	_, err = s.Verify(ctx, signRSA(t, c))
	wantErr(t, err, Invalid, "token has no iss claim")
	c["iss"] = 42
	_, err = s.Verify(ctx, signRSA(t, c))
	wantErr(t, err, Invalid, "issuer not trusted")

	// A single verifier still checks iss.
	one := NewSelector(NewVerifier("one", r1, ks1))
	c["iss"] = r2.Issuer
	_, err = one.Verify(ctx, signRSA(t, c))
	wantErr(t, err, Invalid, "issuer not trusted")
	if _, err := one.Verify(ctx, signRSA(t, baseClaims())); err != nil {
		t.Fatal(err)
	}
	_, err = one.Verify(ctx, "not a token")
	wantErr(t, err, Invalid, "malformed token: unexpected character")
}

// onlyKey returns a key source holding just one key of ks.
func onlyKey(ks *staticKeys, kid string) *staticKeys {
	k := ks.byID[kid]
	return &staticKeys{byID: map[string]oidc.Key{kid: k}, all: []oidc.Key{k}}
}

// TestSelectorStatedIssuer: a provider configured as "<issuer>/" whose
// discovery states "<issuer>" is selected by, and accepts, the stated string
// once it is known; the configured string is then refused. Before discovery
// the configured string is the one accepted.
func TestSelectorStatedIssuer(t *testing.T) {
	ctx := context.Background()
	r := testRules()
	stated := r.Issuer
	r.Issuer = stated + "/"
	known := ""
	r.StatedIssuer = func() string { return known }
	s := NewSelector(NewVerifier("one", r, newKeySource()))

	withIss := func(iss string) string {
		c := baseClaims()
		c["iss"] = iss
		return signRSA(t, c)
	}
	if _, err := s.Verify(ctx, withIss(stated+"/")); err != nil {
		t.Fatalf("before discovery, configured issuer: %v", err)
	}
	_, err := s.Verify(ctx, withIss(stated))
	wantErr(t, err, Invalid, "issuer not trusted")

	known = stated
	id, err := s.Verify(ctx, withIss(stated))
	if err != nil || id.Issuer != stated {
		t.Fatalf("stated issuer: %+v, %v", id, err)
	}
	_, err = s.Verify(ctx, withIss(stated+"/"))
	wantErr(t, err, Invalid, "issuer not trusted")
	_, err = s.Verify(ctx, withIss(stated+"//"))
	wantErr(t, err, Invalid, "issuer not trusted")
}
