package demoidp

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintVerifiesWithJWKS(t *testing.T) {
	s := startIDP(t, Options{})
	kids := map[string]string{"RS256": s.CurrentKID()}
	for _, alg := range []string{"ES256", "EdDSA", "RS384", "PS256"} {
		kids[alg] = s.AddKey(alg)
	}
	for alg, kid := range kids {
		raw, err := s.Mint(map[string]any{"custom": "x"}, WithKID(kid))
		if err != nil {
			t.Fatalf("%s: Mint: %v", alg, err)
		}
		claims, tok, err := verify(t, s, raw)
		if err != nil {
			t.Fatalf("%s: token does not verify with the JWKS: %v", alg, err)
		}
		if tok.Method.Alg() != alg || tok.Header["kid"] != kid {
			t.Errorf("%s: header alg %v kid %v", alg, tok.Header["alg"], tok.Header["kid"])
		}
		if claims["iss"] != s.Issuer() || claims["aud"] != DefaultClientID || claims["sub"] != DefaultUsers()[0].Subject || claims["custom"] != "x" {
			t.Errorf("%s: claims %v", alg, claims)
		}
		exp, _ := claims.GetExpirationTime()
		if d := time.Until(exp.Time); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("%s: exp in %v, want about AccessTokenTTL", alg, d)
		}
	}
}

func TestMintOptionsForAttackTests(t *testing.T) {
	s := startIDP(t, Options{})
	// A retired key still signs, but verification with the JWKS fails.
	old := s.CurrentKID()
	s.RotateKey()
	s.RemoveKey(old)
	raw, err := s.Mint(nil, WithKID(old))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := verify(t, s, raw); err == nil {
		t.Fatal("token signed by a removed key verified")
	}

	// A foreign key signs under the current kid; the JWKS cannot verify it.
	raw, err = s.Mint(nil, WithForeignKey())
	if err != nil {
		t.Fatal(err)
	}
	ftok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil || ftok.Header["kid"] != s.CurrentKID() || ftok.Method.Alg() != "RS256" {
		t.Fatalf("foreign-key token header %v, %v", ftok.Header, err)
	}
	if _, _, err := verify(t, s, raw); err == nil {
		t.Fatal("token signed by a foreign key verified")
	}

	raw, _ = s.Mint(nil, WithAlg("none"))
	if parts := strings.Split(raw, "."); len(parts) != 3 || parts[2] != "" {
		t.Fatalf("alg none token %q should have an empty signature", raw)
	}
	if _, _, err := verify(t, s, raw); err == nil {
		t.Fatal("alg none verified")
	}

	// HS256 keyed with the public key PEM: the key-confusion attack token.
	raw, _ = s.Mint(nil, WithAlg("HS256"))
	der, _ := x509.MarshalPKIXPublicKey(s.PublicKey(s.CurrentKID()))
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if _, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return pemKey, nil }, jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("HS256 confusion token is not HMAC'd with the public key PEM: %v", err)
	}
	if _, _, err := verify(t, s, raw); err == nil {
		t.Fatal("HS256 token verified against the JWKS")
	}

	raw, _ = s.Mint(nil, WithoutKID(), WithHeader("jku", "https://evil.example/jwks"), WithHeader("crit", []string{"x-unknown"}))
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if _, has := tok.Header["kid"]; has || tok.Header["jku"] != "https://evil.example/jwks" || tok.Header["crit"] == nil {
		t.Fatalf("header %v", tok.Header)
	}

	raw, _ = s.Mint(nil, WithHeader("typ", nil))
	if tok, _, err = jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{}); err != nil {
		t.Fatal(err)
	}
	if _, has := tok.Header["typ"]; has {
		t.Fatalf("WithHeader(typ, nil) left typ in the header %v", tok.Header)
	}

	raw, _ = s.Mint(map[string]any{"sub": "x"}, WithoutDefaults())
	claims := jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(raw, claims)
	if len(claims) != 1 || claims["sub"] != "x" {
		t.Fatalf("WithoutDefaults claims %v", claims)
	}

	raw, _ = s.Mint(nil, WithClaims(map[string]any{"exp": nil, "aud": "other"}))
	claims = jwt.MapClaims{}
	jwt.NewParser().ParseUnverified(raw, claims)
	if _, has := claims["exp"]; has || claims["aud"] != "other" {
		t.Fatalf("WithClaims: %v", claims)
	}

	if _, err := s.Mint(nil, WithKID("nope")); err == nil {
		t.Fatal("Mint with an unknown kid succeeded")
	}
}

func TestMintForReleasesClaimsByScope(t *testing.T) {
	s := startIDP(t, Options{})
	claimsOf := func(user string, scopes ...string) jwt.MapClaims {
		t.Helper()
		raw, err := s.MintFor(user, scopes)
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := verify(t, s, raw)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := claimsOf("alice", "openid", "aliuid", "profile", "/acs/alidns")
	want := map[string]string{"sub": "2000000000000002", "aid": DemoAccountID, "uid": "2000000000000002",
		"type": "user", "name": "Alice Liddell", "upn": "alice@example.onaliyun.com",
		"scope": "openid aliuid profile /acs/alidns"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("alice %s = %v, want %s", k, c[k], v)
		}
	}
	c = claimsOf("alice", "openid")
	for _, k := range []string{"aid", "uid", "type", "name", "upn", "login_name", "email"} {
		if _, has := c[k]; has {
			t.Errorf("openid only: %s released", k)
		}
	}
	c = claimsOf("bob", "openid", "/acs/alidns", "profile")
	if c["scope"] != "openid profile" {
		t.Errorf("bob may not grant /acs/alidns: scope %q", c["scope"])
	}
	c = claimsOf("root", "openid", "profile", "aliuid")
	if c["type"] != "account" || c["login_name"] != "owner@example.com" || c["aid"] != c["uid"] {
		t.Errorf("root claims %v", c)
	}
	if _, has := c["upn"]; has {
		t.Error("the account user has no upn")
	}
	c = claimsOf("ops", "openid", "profile")
	if c["type"] != "role" || c["name"] != "ops-admin:ops" {
		t.Errorf("role claims %v", c)
	}
	if _, err := s.MintFor("mallory", nil); err == nil {
		t.Error("MintFor an unknown user succeeded")
	}
}
