package assertion

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// marker is a claim value that no error text may ever contain.
const marker = "MARKER-7f3a"

// TestRefusals checks every reason to refuse an assertion, each by the
// error it must wrap, and that no error text holds token content.
func TestRefusals(t *testing.T) {
	es := newTestKey(t, "es", "ES256")
	rs := newTestKey(t, "rs", "RS256")
	ed := newTestKey(t, "ed", "EdDSA")
	g := newGateway(t, es, rs, ed)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	now := clk.now()
	good := func() map[string]any {
		c := claimsAt(g.URL(), now)
		c["name"] = marker
		return c
	}
	with := func(mod func(map[string]any)) string {
		c := good()
		mod(c)
		return sign(t, es, c)
	}
	payload := func(m map[string]any) string {
		b, _ := json.Marshal(m)
		return string(b)
	}
	goodPayload := payload(good())
	hdr := `{"alg":"ES256","kid":"es","typ":"JWT"}`
	// A payload with one member added at the JSON level, so that duplicates
	// can be built.
	plus := func(member string) string {
		return strings.TrimSuffix(goodPayload, "}") + "," + member + "}"
	}
	hmac := func() string {
		in := b64u([]byte(`{"alg":"HS256","kid":"es","typ":"JWT"}`)) + "." + b64u([]byte(goodPayload))
		sig, err := jwt.SigningMethodHS256.Sign(in, []byte("es"))
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64u(sig)
	}
	valid := sign(t, es, good())
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64u([]byte(strings.Replace(goodPayload, "2000000000000002", "1000000000000000", 1))) + "." + parts[2]

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMissing},
		{"oversized garbage is refused before parsing", strings.Repeat("!", DefaultMaxSize+1), ErrTooLarge},
		{"oversized but well formed", sign(t, es, func() map[string]any { c := good(); c["pad"] = strings.Repeat("x", DefaultMaxSize); return c }()), ErrTooLarge},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", valid + ".x", ErrMalformed},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], ErrMalformed},
		{"space", " " + valid, ErrMalformed},
		{"header not JSON", b64u([]byte("not json")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"header array", b64u([]byte(`["JWT"]`)) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"typ missing", signRaw(t, es, `{"alg":"ES256","kid":"es"}`, goodPayload), ErrType},
		{"typ at+jwt", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"at+jwt"}`, goodPayload), ErrType},
		{"typ dpop+jwt", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"dpop+jwt"}`, goodPayload), ErrType},
		{"typ not a string", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":1}`, goodPayload), ErrType},
		{"alg none unsigned", b64u([]byte(`{"alg":"none","kid":"es","typ":"JWT"}`)) + "." + parts[1] + ".", ErrAlgorithm},
		{"alg none", b64u([]byte(`{"alg":"none","kid":"es","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"alg HS256 keyed with a kid", hmac(), ErrAlgorithm},
		{"alg ES384", b64u([]byte(`{"alg":"ES384","kid":"es","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"alg missing", b64u([]byte(`{"kid":"es","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"EC key named for RS256", signRaw(t, rs, `{"alg":"RS256","kid":"es","typ":"JWT"}`, goodPayload), ErrAlgorithm},
		{"RSA key named for PS256 while its JWK says RS256", signRaw(t, testKey{kid: "rs", alg: "PS256", priv: rs.priv}, `{"alg":"PS256","kid":"rs","typ":"JWT"}`, goodPayload), ErrAlgorithm},
		{"Ed25519 key named for ES256", signRaw(t, es, `{"alg":"ES256","kid":"ed","typ":"JWT"}`, goodPayload), ErrAlgorithm},
		{"kid missing", signRaw(t, es, `{"alg":"ES256","typ":"JWT"}`, goodPayload), ErrMalformed},
		{"kid unknown", signRaw(t, es, `{"alg":"ES256","kid":"nope","typ":"JWT"}`, goodPayload), ErrUnknownKey},
		{"crit", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"JWT","crit":["exp"],"exp":1}`, goodPayload), ErrHeader},
		{"embedded jwk", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"JWT","jwk":{}}`, goodPayload), ErrHeader},
		{"jku", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"JWT","jku":"https://evil.example/jwks"}`, goodPayload), ErrHeader},
		{"x5u", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"JWT","x5u":"https://evil.example/c"}`, goodPayload), ErrHeader},
		{"duplicate header member", signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"JWT","kid":"rs"}`, goodPayload), ErrMalformed},
		{"bad signature", tampered, ErrSignature},
		{"signature of another key", signRaw(t, newTestKey(t, "es", "ES256"), hdr, goodPayload), ErrSignature},
		{"duplicate sub", signRaw(t, es, hdr, plus(`"sub":"1000000000000000"`)), ErrMalformed},
		{"duplicate sub in other case", signRaw(t, es, hdr, plus(`"SUB":"1000000000000000"`)), ErrMalformed},
		{"duplicate sub escaped", signRaw(t, es, hdr, plus(`"s\u0075b":"1000000000000000"`)), ErrMalformed},
		{"duplicate with Kelvin sign", signRaw(t, es, hdr, plus(`"\u212aey":1,"key":2`)), ErrMalformed},
		{"duplicate nested in cnf", signRaw(t, es, hdr, plus(`"cnf":{"jkt":"a","jkt":"b"}`)), ErrMalformed},
		{"duplicate in an array's object", signRaw(t, es, hdr, plus(`"x":[{"a":1,"a":2}]`)), ErrMalformed},
		{"nested too deep", signRaw(t, es, hdr, plus(`"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40))), ErrMalformed},
		{"data after the claims", signRaw(t, es, hdr, goodPayload+"{}"), ErrMalformed},
		{"claims invalid UTF-8", signRaw(t, es, hdr, plus("\"x\":\"\xff\"")), ErrMalformed},
		{"claims not an object", signRaw(t, es, hdr, `"sub"`), ErrMalformed},
		{"wrong issuer", with(func(c map[string]any) { c["iss"] = "https://other.example" }), ErrIssuer},
		{"issuer with a trailing slash", with(func(c map[string]any) { c["iss"] = g.URL() + "/" }), ErrIssuer},
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "https://other.example.com" }), ErrAudience},
		{"audience differs in case", with(func(c map[string]any) { c["aud"] = "https://APP.example.com" }), ErrAudience},
		{"audience array with another", with(func(c map[string]any) { c["aud"] = []string{testAudience, "https://other.example.com"} }), ErrAudience},
		{"audience empty array", with(func(c map[string]any) { c["aud"] = []string{} }), ErrAudience},
		{"audience a number", with(func(c map[string]any) { c["aud"] = 1 }), ErrInvalidClaim},
		{"missing aud", with(func(c map[string]any) { delete(c, "aud") }), ErrMissingClaim},
		{"missing sub", with(func(c map[string]any) { delete(c, "sub") }), ErrMissingClaim},
		{"empty sub", with(func(c map[string]any) { c["sub"] = "" }), ErrMissingClaim},
		{"no sub, empty client_id", with(func(c map[string]any) { delete(c, "sub"); c["client_id"] = "" }), ErrMissingClaim},
		{"empty sub, empty client_id", with(func(c map[string]any) { c["sub"] = ""; c["client_id"] = "" }), ErrMissingClaim},
		{"client_id a number", with(func(c map[string]any) { c["client_id"] = 7 }), ErrInvalidClaim},
		{"empty sub beside a client_id", with(func(c map[string]any) { c["sub"] = ""; c["client_id"] = "batch-job" }), ErrMissingClaim},
		{"sub a number", with(func(c map[string]any) { c["sub"] = 2000000000000002 }), ErrInvalidClaim},
		{"missing exp", with(func(c map[string]any) { delete(c, "exp") }), ErrMissingClaim},
		{"missing iat", with(func(c map[string]any) { delete(c, "iat") }), ErrMissingClaim},
		{"missing iss", with(func(c map[string]any) { delete(c, "iss") }), ErrMissingClaim},
		{"exp a string", with(func(c map[string]any) { c["exp"] = "1800000120" }), ErrInvalidClaim},
		{"exp huge", with(func(c map[string]any) { c["exp"] = 1e300 }), ErrInvalidClaim},
		{"exp negative", with(func(c map[string]any) { c["exp"] = -1 }), ErrInvalidClaim},
		{"scope an array", with(func(c map[string]any) { c["scope"] = []string{"openid"} }), ErrInvalidClaim},
		{"email a number", with(func(c map[string]any) { c["email"] = 5 }), ErrInvalidClaim},
		{"cnf a string", with(func(c map[string]any) { c["cnf"] = "x" }), ErrInvalidClaim},
		{"expired", with(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-3*time.Minute).Unix(), now.Add(-31*time.Second).Unix()
		}), ErrExpired},
		{"expired at exp plus skew", with(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-3*time.Minute).Unix(), now.Add(-30*time.Second).Unix()
		}), ErrExpired},
		{"issued in the future", with(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(31*time.Second).Unix(), now.Add(2*time.Minute).Unix()
		}), ErrNotYetValid},
		{"nbf in the future", with(func(c map[string]any) { c["nbf"] = now.Add(31 * time.Second).Unix() }), ErrNotYetValid},
		{"nbf a string", with(func(c map[string]any) { c["nbf"] = "0" }), ErrInvalidClaim},
		{"lifetime over an hour", with(func(c map[string]any) { c["exp"] = now.Add(time.Hour + time.Second).Unix() }), ErrLifetime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), c.token)
			if !errors.Is(err, c.want) || id != nil {
				t.Fatalf("got %v (identity %v), want %v", err, id != nil, c.want)
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "2000000000000002") {
				t.Errorf("error text holds token content: %q", err)
			}
		})
	}

	// Within the skew the edges pass.
	accepted := map[string]map[string]any{
		"valid":                   good(),
		"audience one-item array": func() map[string]any { c := good(); c["aud"] = []string{testAudience}; return c }(),
		"expired within skew": func() map[string]any {
			c := good()
			c["iat"], c["exp"] = now.Add(-3*time.Minute).Unix(), now.Add(-29*time.Second).Unix()
			return c
		}(),
		"iat within skew": func() map[string]any { c := good(); c["iat"] = now.Add(29 * time.Second).Unix(); return c }(),
		"fractional dates": func() map[string]any {
			c := good()
			c["iat"], c["exp"] = float64(now.Unix())+0.5, float64(now.Unix())+60.25
			return c
		}(),
		"lifetime exactly an hour": func() map[string]any { c := good(); c["exp"] = now.Add(time.Hour).Unix(); return c }(),
		"typ application/jwt":      nil,
		"extra claims kept":        func() map[string]any { c := good(); c["x"] = map[string]any{"y": 1}; return c }(),
		"machine caller: client_id, no sub": func() map[string]any {
			c := good()
			delete(c, "sub")
			c["client_id"] = "batch-job"
			return c
		}(),
	}
	for name, claims := range accepted {
		tok := ""
		if claims == nil {
			tok = signRaw(t, es, `{"alg":"ES256","kid":"es","typ":"application/JWT"}`, goodPayload)
		} else {
			tok = sign(t, es, maps.Clone(claims))
		}
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, k := range []testKey{rs, ed} {
		if _, err := v.Verify(context.Background(), sign(t, k, good())); err != nil {
			t.Errorf("%s: %v", k.alg, err)
		}
	}
}

// TestAllowedAlgorithms narrows the list: an RS256 assertion from a
// gateway key is then refused before any key lookup.
func TestAllowedAlgorithms(t *testing.T) {
	es := newTestKey(t, "es", "ES256")
	rs := newTestKey(t, "rs", "RS256")
	g := newGateway(t, es, rs)
	clk := newClock()
	v := newTestVerifier(t, g, clk, WithAlgorithms("ES256"))
	if _, err := v.Verify(context.Background(), sign(t, rs, claimsAt(g.URL(), clk.now()))); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("RS256 with only ES256 allowed: %v", err)
	}
	if g.jwksHits.Load() != 0 {
		t.Error("keys fetched for a refused alg")
	}
	if _, err := v.Verify(context.Background(), sign(t, es, claimsAt(g.URL(), clk.now()))); err != nil {
		t.Error(err)
	}
}

// TestClockSkewOption: with no skew, one second past exp is expired.
func TestClockSkewOption(t *testing.T) {
	es := newTestKey(t, "es", "ES256")
	g := newGateway(t, es)
	clk := newClock()
	v := newTestVerifier(t, g, clk, WithClockSkew(0))
	c := claimsAt(g.URL(), clk.now())
	c["exp"] = clk.now().Add(-time.Second).Unix()
	if _, err := v.Verify(context.Background(), sign(t, es, c)); !errors.Is(err, ErrExpired) {
		t.Errorf("got %v", err)
	}
}

// TestMaxSizeOption: a smaller limit refuses a normal assertion unparsed.
func TestMaxSizeOption(t *testing.T) {
	es := newTestKey(t, "es", "ES256")
	g := newGateway(t, es)
	clk := newClock()
	v := newTestVerifier(t, g, clk, WithMaxSize(1024))
	c := claimsAt(g.URL(), clk.now())
	c["pad"] = strings.Repeat("x", 1024)
	if _, err := v.Verify(context.Background(), sign(t, es, c)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("got %v", err)
	}
	if g.jwksHits.Load() != 0 {
		t.Error("keys fetched for an oversized assertion")
	}
}
