package token

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestFinding10TokenTypeAllowList: a bearer verifier accepts only the JWS
// `typ` values of its allow-list (default JWT, at+jwt and none), compared
// case-insensitively and with the optional application/ prefix; logout
// tokens, DPoP proofs and security event tokens are refused.
func TestFinding10TokenTypeAllowList(t *testing.T) {
	k := getKeys()
	v := NewVerifier("p", testRules(), newKeySource())
	withTyp := func(typ any) string {
		hdr := map[string]any{"typ": typ}
		if typ == nil {
			hdr = nil
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, baseClaims())
		tok.Header["kid"] = "rsa"
		delete(tok.Header, "typ")
		for name, val := range hdr {
			tok.Header[name] = val
		}
		s, err := tok.SignedString(k.rsa)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, typ := range []any{nil, "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/JWT"} {
		if _, err := v.Verify(context.Background(), withTyp(typ)); err != nil {
			t.Errorf("typ %v: %v, want accepted", typ, err)
		}
	}
	for typ, want := range map[any]string{
		"logout+jwt":              "token type logout+jwt not accepted",
		"application/logout+jwt":  "token type logout+jwt not accepted",
		"Logout+JWT":              "token type logout+jwt not accepted",
		"dpop+jwt":                "token type dpop+jwt not accepted",
		"secevent+jwt":            "token type secevent+jwt not accepted",
		"token-introspection+jwt": "token type not accepted",
		"text/jwt":                "token type not accepted",
		"application/":            "malformed token: header typ is not a media type",
		"":                        "malformed token: header typ is not a media type",
		float64(1):                "malformed token: header typ is not a string",
	} {
		_, err := v.Verify(context.Background(), withTyp(typ))
		wantErr(t, err, Invalid, want)
	}

	// An operator's list replaces the default: at+jwt alone refuses JWT
	// and untyped tokens.
	rules := testRules()
	rules.Types = []string{"at+jwt"}
	strict := NewVerifier("p", rules, newKeySource())
	if _, err := strict.Verify(context.Background(), withTyp("application/AT+JWT")); err != nil {
		t.Errorf("at+jwt with an at+jwt-only list: %v", err)
	}
	_, err := strict.Verify(context.Background(), withTyp("JWT"))
	wantErr(t, err, Invalid, "token type jwt not accepted")
	_, err = strict.Verify(context.Background(), withTyp(nil))
	wantErr(t, err, Invalid, "token has no typ header")
}

// TestFinding10EventTokensRefused: an untyped security event token (a
// logout token from a provider that does not type them) carries `events`:
// bearer and ID token verifiers refuse it, the logout verifier takes it.
func TestFinding10EventTokensRefused(t *testing.T) {
	c := baseClaims()
	c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "rsa"
	delete(tok.Header, "typ")
	raw, err := tok.SignedString(getKeys().rsa)
	if err != nil {
		t.Fatal(err)
	}
	for name, types := range map[string][]string{"bearer": nil, "id token": IDTokenTypes} {
		rules := testRules()
		rules.Types = types
		_, err := NewVerifier("p", rules, newKeySource()).Verify(context.Background(), raw)
		t.Run(name, func(t *testing.T) {
			wantErr(t, err, Invalid, "token is a security event token (events claim), not an access or ID token")
		})
	}
	rules := testRules()
	rules.Types = LogoutTokenTypes
	rules.EventTokens = true
	if _, err := NewVerifier("p", rules, newKeySource()).Verify(context.Background(), raw); err != nil {
		t.Fatalf("logout verifier, untyped logout token: %v", err)
	}
}

// TestFinding10IDAndLogoutTypes: the ID token verifier takes JWT or no
// typ, never logout+jwt or at+jwt; the logout verifier takes logout+jwt or
// no typ, never JWT.
func TestFinding10IDAndLogoutTypes(t *testing.T) {
	k := getKeys()
	signTyp := func(typ string, claims jwt.MapClaims) string {
		return sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", claims, map[string]any{"typ": typ})
	}
	idRules := testRules()
	idRules.Types = IDTokenTypes
	idv := NewVerifier("p", idRules, newKeySource())
	if _, err := idv.Verify(context.Background(), signTyp("JWT", baseClaims())); err != nil {
		t.Errorf("ID token typ JWT: %v", err)
	}
	_, err := idv.Verify(context.Background(), signTyp("logout+jwt", baseClaims()))
	wantErr(t, err, Invalid, "token type logout+jwt not accepted")
	_, err = idv.Verify(context.Background(), signTyp("at+jwt", baseClaims()))
	wantErr(t, err, Invalid, "token type at+jwt not accepted")

	lrules := testRules()
	lrules.Types = LogoutTokenTypes
	lrules.EventTokens = true
	lv := NewVerifier("p", lrules, newKeySource())
	if _, err := lv.Verify(context.Background(), signTyp("application/logout+jwt", baseClaims())); err != nil {
		t.Errorf("logout token typ application/logout+jwt: %v", err)
	}
	_, err = lv.Verify(context.Background(), signTyp("JWT", baseClaims()))
	wantErr(t, err, Invalid, "token type jwt not accepted")
}

func TestValidateTypes(t *testing.T) {
	for _, ok := range [][]string{{"JWT"}, {"at+jwt", ""}, {"application/at+jwt"}, {"JWT", "at+jwt", ""}} {
		if err := ValidateTypes(ok); err != nil {
			t.Errorf("ValidateTypes(%q): %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"logout+jwt"}, {"application/Logout+JWT"}, {"dpop+jwt"}, {"secevent+jwt"}, {"text/plain"}, {"a b"}, {"application/"}} {
		if err := ValidateTypes(bad); err == nil {
			t.Errorf("ValidateTypes(%q) accepted", bad)
		}
	}
}
