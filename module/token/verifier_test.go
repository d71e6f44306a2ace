package token

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

func TestVerifyAlgorithms(t *testing.T) {
	k := getKeys()
	rules := testRules()
	rules.Algorithms = SupportedAlgorithms
	v := NewVerifier("aliyun", rules, newKeySource())
	for _, tc := range []struct {
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{jwt.SigningMethodRS256, k.rsa, "rsa"},
		{jwt.SigningMethodRS384, k.rsa, "rsa"},
		{jwt.SigningMethodRS512, k.rsa, "rsa"},
		{jwt.SigningMethodPS256, k.rsa, "rsa"},
		{jwt.SigningMethodPS384, k.rsa, "rsa"},
		{jwt.SigningMethodPS512, k.rsa, "rsa"},
		{jwt.SigningMethodES256, k.p256, "p256"},
		{jwt.SigningMethodES384, k.p384, "p384"},
		{jwt.SigningMethodES512, k.p521, "p521"},
		{jwt.SigningMethodEdDSA, k.ed, "ed"},
	} {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			raw := sign(t, tc.method, tc.key, tc.kid, baseClaims(), nil)
			id, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Provider != "aliyun" || id.Subject != "user-1" || id.Issuer != testIssuer || id.Token != raw ||
				!id.Expiry.Equal(time.Unix(testNow.Add(time.Hour).Unix(), 0)) ||
				strings.Join(id.Scopes, " ") != "openid profile" || id.Claims["aud"] != testAudience {
				t.Fatalf("identity = %+v", id)
			}
			// Tampering with the payload breaks the signature.
			parts := strings.Split(raw, ".")
			c := baseClaims()
			c["sub"] = "admin"
			b, _ := json.Marshal(c)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			_, err = v.Verify(context.Background(), strings.Join(parts, "."))
			wantErr(t, err, Invalid, "invalid signature")
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	k := getKeys()
	v := NewVerifier("p", testRules(), newKeySource()) // RS256 only
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS384, k.rsa, "rsa", baseClaims(), nil))
	wantErr(t, err, Invalid, "algorithm RS384 not allowed")
	if _, err := v.Verify(context.Background(), signRSA(t, baseClaims())); err != nil {
		t.Fatalf("RS256: %v", err)
	}
	// Default allow-list is RS256.
	rules := testRules()
	rules.Algorithms = nil
	v = NewVerifier("p", rules, newKeySource())
	if _, err := v.Verify(context.Background(), signRSA(t, baseClaims())); err != nil {
		t.Fatalf("default RS256: %v", err)
	}
	_, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil))
	wantErr(t, err, Invalid, "algorithm ES256 not allowed")
}

func TestValidateAlgorithms(t *testing.T) {
	if err := ValidateAlgorithms(SupportedAlgorithms); err != nil {
		t.Fatal(err)
	}
	for alg, want := range map[string]string{
		"none":  "unsigned tokens",
		"NONE":  "unsigned tokens",
		"HS256": "HMAC",
		"hs512": "HMAC",
		"rs256": "not supported",
		"RSA1":  "not supported",
	} {
		err := ValidateAlgorithms([]string{"RS256", alg})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "algorithms:") {
			t.Errorf("ValidateAlgorithms(%q) = %v, want %q", alg, err, want)
		}
	}
}

func TestClaimRules(t *testing.T) {
	type mod func(c jwt.MapClaims, r *Rules)
	ago := func(d time.Duration) int64 { return testNow.Add(-d).Unix() }
	cases := []struct {
		name string
		mod  mod
		want string // "" → valid
	}{
		{"valid", func(jwt.MapClaims, *Rules) {}, ""},
		{"exp missing", func(c jwt.MapClaims, _ *Rules) { delete(c, "exp") }, "token has no exp claim"},
		{"exp passed", func(c jwt.MapClaims, _ *Rules) { c["exp"] = ago(time.Minute) }, "token expired"},
		{"exp passed within skew", func(c jwt.MapClaims, _ *Rules) { c["exp"] = ago(20 * time.Second) }, ""},
		{"exp exactly now+skew", func(c jwt.MapClaims, _ *Rules) { c["exp"] = ago(30 * time.Second) }, "token expired"},
		{"exp a string", func(c jwt.MapClaims, _ *Rules) { c["exp"] = "tomorrow" }, "invalid exp claim"},
		{"exp fractional", func(c jwt.MapClaims, _ *Rules) { c["exp"] = float64(testNow.Unix()) + 3600.5 }, ""},
		{"exp negative", func(c jwt.MapClaims, _ *Rules) { c["exp"] = -1 }, "invalid exp claim"},
		{"exp absurd", func(c jwt.MapClaims, _ *Rules) { c["exp"] = 1e300 }, "invalid exp claim"},
		{"iss missing", func(c jwt.MapClaims, _ *Rules) { delete(c, "iss") }, "token has no iss claim"},
		{"iss wrong", func(c jwt.MapClaims, _ *Rules) { c["iss"] = "https://evil.example.com" }, "issuer not trusted"},
		{"iss trailing slash", func(c jwt.MapClaims, _ *Rules) { c["iss"] = testIssuer + "/" }, "issuer not trusted"},
		{"iss not a string", func(c jwt.MapClaims, _ *Rules) { c["iss"] = 7 }, "issuer not trusted"},
		{"aud missing", func(c jwt.MapClaims, _ *Rules) { delete(c, "aud") }, "token has no aud claim"},
		{"aud wrong", func(c jwt.MapClaims, _ *Rules) { c["aud"] = "someone-else" }, "audience not accepted"},
		{"aud array match", func(c jwt.MapClaims, _ *Rules) { c["aud"] = []any{"x", "other-app"} }, ""},
		{"aud array no match", func(c jwt.MapClaims, _ *Rules) { c["aud"] = []any{"x", "y"} }, "audience not accepted"},
		{"aud number", func(c jwt.MapClaims, _ *Rules) { c["aud"] = 4 }, "invalid aud claim"},
		{"no audiences configured", func(_ jwt.MapClaims, r *Rules) { r.Audiences = nil }, "audience not accepted"},
		{"nbf future", func(c jwt.MapClaims, _ *Rules) { c["nbf"] = testNow.Add(time.Minute).Unix() }, "token not yet valid"},
		{"nbf future within skew", func(c jwt.MapClaims, _ *Rules) { c["nbf"] = testNow.Add(20 * time.Second).Unix() }, ""},
		{"nbf absent", func(c jwt.MapClaims, _ *Rules) { delete(c, "nbf") }, ""},
		{"nbf bad", func(c jwt.MapClaims, _ *Rules) { c["nbf"] = true }, "invalid nbf claim"},
		{"iat future", func(c jwt.MapClaims, _ *Rules) { c["iat"] = testNow.Add(time.Minute).Unix() }, "token issued in the future"},
		{"iat future within skew", func(c jwt.MapClaims, _ *Rules) { c["iat"] = testNow.Add(20 * time.Second).Unix() }, ""},
		{"iat absent, no max age", func(c jwt.MapClaims, _ *Rules) { delete(c, "iat") }, ""},
		{"iat absent, max age", func(c jwt.MapClaims, r *Rules) { delete(c, "iat"); r.MaxTokenAge = time.Hour }, "token has no iat claim"},
		{"too old", func(c jwt.MapClaims, r *Rules) { c["iat"] = ago(2 * time.Hour); r.MaxTokenAge = time.Hour }, "token too old"},
		{"old within skew", func(c jwt.MapClaims, r *Rules) { c["iat"] = ago(time.Hour + 20*time.Second); r.MaxTokenAge = time.Hour }, ""},
		{"young enough", func(c jwt.MapClaims, r *Rules) { c["iat"] = ago(59 * time.Minute); r.MaxTokenAge = time.Hour }, ""},
		{"sub not a string", func(c jwt.MapClaims, _ *Rules) { c["sub"] = 5 }, "invalid sub claim"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := baseClaims(), testRules()
			tc.mod(c, &r)
			_, err := NewVerifier("p", r, newKeySource()).Verify(context.Background(), signRSA(t, c))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			wantErr(t, err, Invalid, tc.want)
		})
	}
}

// hs256 builds a token "signed" with HMAC-SHA256 over secret.
func hs256(t *testing.T, secret []byte, kid string) string {
	return sign(t, jwt.SigningMethodHS256, secret, kid, baseClaims(), nil)
}

func TestAttacks(t *testing.T) {
	k := getKeys()
	ctx := context.Background()
	v := NewVerifier("p", testRules(), newKeySource())

	t.Run("alg none", func(t *testing.T) {
		raw := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa", baseClaims(), nil)
		_, err := v.Verify(ctx, raw)
		wantErr(t, err, Invalid, "malformed token: missing signature")
		// With some signature bytes attached it is refused by name.
		_, err = v.Verify(ctx, raw+"c2ln")
		wantErr(t, err, Invalid, "algorithm none not allowed")
	})

	t.Run("HS256 with the RSA public key as secret", func(t *testing.T) {
		der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for _, secret := range [][]byte{pemKey, der} {
			_, err := v.Verify(ctx, hs256(t, secret, "rsa"))
			wantErr(t, err, Invalid, "algorithm HS256 not allowed")
		}
		// Even if an operator lists HS256, it is never allowed.
		r := testRules()
		r.Algorithms = []string{"RS256", "HS256", "none"}
		_, err := NewVerifier("p", r, newKeySource()).Verify(ctx, hs256(t, pemKey, "rsa"))
		wantErr(t, err, Invalid, "algorithm HS256 not allowed")
	})

	t.Run("embedded key headers", func(t *testing.T) {
		var hits atomic.Int64
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		defer srv.Close()
		jwk := map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}
		for name, val := range map[string]any{
			"jwk": jwk,
			"jku": srv.URL + "/jwks",
			"x5u": srv.URL + "/cert.pem",
			"x5c": []string{"MIIB"},
		} {
			raw := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", baseClaims(), map[string]any{name: val})
			_, err := v.Verify(ctx, raw)
			wantErr(t, err, Invalid, "header "+name+" not allowed")
		}
		if hits.Load() != 0 {
			t.Fatalf("a URL from the token was fetched %d times", hits.Load())
		}
	})

	t.Run("crit", func(t *testing.T) {
		for _, crit := range []any{[]string{"exp"}, []string{"b64"}, []string{}} {
			raw := sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", baseClaims(), map[string]any{"crit": crit})
			_, err := v.Verify(ctx, raw)
			wantErr(t, err, Invalid, "critical header extensions not supported")
		}
	})

	t.Run("oversize", func(t *testing.T) {
		keys := newKeySource()
		v := NewVerifier("p", testRules(), keys)
		c := baseClaims()
		c["pad"] = ""
		base := len(signRSA(t, c))
		// Grow the token to just past 20000 bytes: the last one within the
		// limit is accepted, the first one past it is refused.
		c["pad"] = strings.Repeat("a", (DefaultMaxTokenSize-base)*3/4-8)
		raw, prev := signRSA(t, c), ""
		for len(raw) <= DefaultMaxTokenSize {
			prev = raw
			c["pad"] = c["pad"].(string) + "a"
			raw = signRSA(t, c)
		}
		if prev == "" || len(prev) < DefaultMaxTokenSize-2 {
			t.Fatalf("test setup: largest token within the limit has %d bytes", len(prev))
		}
		if _, err := v.Verify(ctx, prev); err != nil {
			t.Fatalf("token of %d bytes: %v", len(prev), err)
		}
		_, err := v.Verify(ctx, raw)
		wantErr(t, err, Invalid, "token too large")
		big := signRSA(t, func() jwt.MapClaims { c["pad"] = strings.Repeat("a", 20000); return c }())
		calls := keys.calls.Load()
		_, err = v.Verify(ctx, big)
		wantErr(t, err, Invalid, "token too large")
		// Refused before parsing: even garbage of that size gets the same answer.
		_, err = v.Verify(ctx, strings.Repeat("!", DefaultMaxTokenSize+1))
		wantErr(t, err, Invalid, "token too large")
		if keys.calls.Load() != calls {
			t.Fatal("keys looked up for an oversize token")
		}
	})

	t.Run("key type must match alg", func(t *testing.T) {
		r := testRules()
		r.Algorithms = SupportedAlgorithms
		v := NewVerifier("p", r, newKeySource())
		// ES256 token naming the RSA key.
		_, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "rsa", baseClaims(), nil))
		wantErr(t, err, Invalid, "signing key does not fit algorithm ES256")
		// ES384 token naming the P-256 key.
		_, err = v.Verify(ctx, sign(t, jwt.SigningMethodES384, k.p384, "p256", baseClaims(), nil))
		wantErr(t, err, Invalid, "signing key does not fit algorithm ES384")
		// ES256 token naming the P-384 key.
		_, err = v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "p384", baseClaims(), nil))
		wantErr(t, err, Invalid, "signing key does not fit algorithm ES256")
		// RS256 token naming the Ed25519 key.
		_, err = v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "ed", baseClaims(), nil))
		wantErr(t, err, Invalid, "signing key does not fit algorithm RS256")
		// A JWK alg must equal the token alg.
		keys := newKeySource()
		rk := keys.byID["rsa"]
		rk.Algorithm = "PS256"
		keys.byID["rsa"] = rk
		v = NewVerifier("p", r, keys)
		_, err = v.Verify(ctx, signRSA(t, baseClaims()))
		wantErr(t, err, Invalid, "signing key does not fit algorithm RS256")
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodPS256, k.rsa, "rsa", baseClaims(), nil)); err != nil {
			t.Fatalf("PS256 with a PS256 JWK: %v", err)
		}
	})

	t.Run("unknown kid and keys not loaded", func(t *testing.T) {
		_, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "nope", baseClaims(), nil))
		wantErr(t, err, Invalid, "unknown signing key")
		nl := newKeySource()
		nl.notLoaded = true
		vn := NewVerifier("p", testRules(), nl)
		for _, kid := range []string{"rsa", ""} {
			_, err = vn.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, kid, baseClaims(), nil))
			wantErr(t, err, Unavailable, "signing keys not loaded yet")
			if err.(*Error).RetryAfter <= 0 {
				t.Fatal("Unavailable without RetryAfter")
			}
		}
	})

	t.Run("no kid", func(t *testing.T) {
		r := testRules()
		r.Algorithms = []string{"RS256", "ES256"}
		v := NewVerifier("p", r, newKeySource())
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodES256, k.p256, "", baseClaims(), nil)); err != nil {
			t.Fatalf("ES256 without kid: %v", err)
		}
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "", baseClaims(), nil)); err != nil {
			t.Fatalf("RS256 without kid: %v", err)
		}
		only := &staticKeys{byID: map[string]oidc.Key{}, all: []oidc.Key{{ID: "ed", Public: k.ed.Public()}}}
		_, err := NewVerifier("p", r, only).Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, "", baseClaims(), nil))
		wantErr(t, err, Invalid, "no signing key fits algorithm RS256")
	})

	t.Run("malformed", func(t *testing.T) {
		good := signRSA(t, baseClaims())
		parts := strings.Split(good, ".")
		for raw, want := range map[string]string{
			"":                                    "malformed token: want three dot-separated parts",
			"abc":                                 "malformed token: want three dot-separated parts",
			parts[0] + "." + parts[1]:             "malformed token: want three dot-separated parts",
			good + ".x.y":                         "malformed token: want three dot-separated parts",
			good + "=":                            "malformed token: unexpected character",
			"Bearer " + good:                      "malformed token: unexpected character",
			"." + parts[1] + "." + parts[2]:       "malformed token: empty part",
			"e30." + parts[1] + "." + parts[2]:    "malformed token: header has no alg",
			"bnVsbA." + parts[1] + "." + parts[2]: "malformed token: header is not a JSON object",
			parts[0] + ".bnVsbA." + parts[2]:      "malformed token: payload is not a JSON object",
			parts[0] + ".e30xe." + parts[2]:       "malformed token: payload is not base64url",
			parts[0] + "." + parts[1] + ".A":      "malformed token: signature is not base64url",
			"eyJhbGciOjF9." + parts[1] + ".c2ln":  "malformed token: header alg is not a string",
		} {
			_, err := v.Verify(ctx, raw)
			wantErr(t, err, Invalid, want)
		}
	})
}

func TestDescriptionsAreSafe(t *testing.T) {
	k := getKeys()
	v := NewVerifier("p", testRules(), newKeySource())
	evil := "<script>alert(1)</script>"
	for _, raw := range []string{
		sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", func() jwt.MapClaims { c := baseClaims(); c["iss"] = evil; return c }(), nil),
		sign(t, jwt.SigningMethodRS256, k.rsa, "rsa", func() jwt.MapClaims { c := baseClaims(); c["aud"] = evil; return c }(), nil),
		sign(t, jwt.SigningMethodRS256, k.rsa, evil, baseClaims(), nil),
		"eyJhbGciOiI8c2NyaXB0PiJ9.e30.c2ln", // alg "<script>"
	} {
		_, err := v.Verify(context.Background(), raw)
		if err == nil {
			t.Fatal("accepted")
		}
		d := err.Error()
		if strings.Contains(d, "script") || strings.Contains(d, raw) || len(d) > 80 {
			t.Fatalf("unsafe description %q", d)
		}
	}
}

func TestJSONNumberClaims(t *testing.T) {
	v := NewVerifier("p", testRules(), newKeySource())
	c := baseClaims()
	c["aid"] = json.Number("1000000000000000001") // beyond float64 precision
	c["ratio"] = json.Number("0.1")
	id, err := v.Verify(context.Background(), signRSA(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := id.Claims["aid"].(json.Number); !ok || n.String() != "1000000000000000001" {
		t.Fatalf("aid = %#v, want json.Number 1000000000000000001", id.Claims["aid"])
	}
	if n, ok := id.Claims["ratio"].(json.Number); !ok || n.String() != "0.1" {
		t.Fatalf("ratio = %#v", id.Claims["ratio"])
	}
	if _, ok := id.Claims["exp"].(json.Number); !ok {
		t.Fatalf("exp = %T, want json.Number", id.Claims["exp"])
	}
}

func TestScopes(t *testing.T) {
	v := NewVerifier("p", testRules(), newKeySource())
	for _, tc := range []struct {
		scope, scp any
		want       string
	}{
		{"openid  profile", nil, "openid profile"},
		{nil, []any{"a", "b"}, "a b"},
		{nil, "a b", "a b"},
		{"openid a", []any{"a", "c", 5}, "openid a c"},
		{[]any{"x", "y"}, nil, "x y"},
		{nil, nil, ""},
		{7, map[string]any{"a": 1}, ""},
	} {
		c := baseClaims()
		delete(c, "scope")
		if tc.scope != nil {
			c["scope"] = tc.scope
		}
		if tc.scp != nil {
			c["scp"] = tc.scp
		}
		id, err := v.Verify(context.Background(), signRSA(t, c))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(id.Scopes, " "); got != tc.want {
			t.Errorf("scope %v scp %v: scopes %q, want %q", tc.scope, tc.scp, got, tc.want)
		}
	}
}

// TestExpiryHonoursMaxTokenAge: the identity's Expiry (which bounds every
// cache keyed on the token) is the moment max_token_age refuses the token
// when that comes before exp, so a cached token never outlives the rule
// (red team F8).
func TestExpiryHonoursMaxTokenAge(t *testing.T) {
	c, r := baseClaims(), testRules()
	iat := testNow.Add(-59 * time.Minute)
	c["iat"], c["exp"] = iat.Unix(), testNow.Add(time.Hour).Unix()
	r.MaxTokenAge = time.Hour
	tok := signRSA(t, c)
	id, err := NewVerifier("p", r, newKeySource()).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if want := iat.Add(time.Hour + r.ClockSkew); !id.Expiry.Equal(want) {
		t.Errorf("Expiry = %s, want iat + max_token_age + skew = %s", id.Expiry, want)
	}
	r.MaxTokenAge = 0
	if id, _ = NewVerifier("p", r, newKeySource()).Verify(context.Background(), tok); !id.Expiry.Equal(testNow.Add(time.Hour)) {
		t.Errorf("without max_token_age Expiry = %s, want exp", id.Expiry)
	}
}
