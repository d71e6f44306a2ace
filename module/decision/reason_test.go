package decision

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

func TestReasonNamesAreUniqueAndLabelSafe(t *testing.T) {
	seen := map[string]bool{}
	for r := range Reason(NumReasons) {
		name := r.String()
		if name == "" || name == "unknown" || seen[name] {
			t.Errorf("reason %d has name %q (duplicate or empty)", r, name)
		}
		seen[name] = true
		for _, c := range name {
			if (c < 'a' || c > 'z') && c != '_' {
				t.Errorf("reason %q has a character outside [a-z_]", name)
			}
		}
		if r.Outcome().String() == "unknown" {
			t.Errorf("reason %q has no outcome", name)
		}
	}
	if len(seen) != NumReasons {
		t.Errorf("%d reasons, want %d", len(seen), NumReasons)
	}
	if Reason(200).String() != "unknown" || Reason(200).Outcome() != OutcomeDeny {
		t.Error("an out-of-range reason does not fail closed")
	}
	for r, o := range map[Reason]Outcome{
		ReasonPublic: OutcomeAllow, ReasonAuthorized: OutcomeAllow, ReasonSession: OutcomeAllow,
		ReasonNoCredential: OutcomeDeny, ReasonInvalidToken: OutcomeDeny, ReasonKeysUnavailable: OutcomeUnavailable,
		ReasonSTSMisconfigured: OutcomeError, ReasonSTSUnavailable: OutcomeUnavailable, ReasonLoginRedirect: OutcomeRedirect,
		ReasonOptionalAnonymous: OutcomeAllow,
	} {
		if r.Outcome() != o {
			t.Errorf("%s → %s, want %s", r, r.Outcome(), o)
		}
	}
}

func TestSTSResults(t *testing.T) {
	cases := []struct {
		err    error
		result STSResult
		reason Reason
	}{
		{nil, STSOK, ReasonSTSUnavailable},
		{&sts.Error{Kind: sts.InvalidToken, Code: "AuthenticationFail.OIDCToken.Expired"}, STSInvalidToken, ReasonSTSInvalidToken},
		{&sts.Error{Kind: sts.Forbidden, Code: "AuthenticationFail.NoPermission"}, STSForbidden, ReasonSTSForbidden},
		{&sts.Error{Kind: sts.Misconfigured, Code: "EntityNotExist.Role"}, STSMisconfigured, ReasonSTSMisconfigured},
		{&sts.Error{Kind: sts.Unavailable, Code: sts.CodeTimeout}, STSUnavailable, ReasonSTSUnavailable},
		{errors.New("something else"), STSUnavailable, ReasonSTSUnavailable},
	}
	for _, c := range cases {
		if got := STSResultFor(c.err); got != c.result {
			t.Errorf("STSResultFor(%v) = %s, want %s", c.err, got, c.result)
		}
		if c.err != nil {
			if got := ReasonForSTSError(c.err); got != c.reason {
				t.Errorf("ReasonForSTSError(%v) = %s, want %s", c.err, got, c.reason)
			}
		}
	}
}

// keySource is a fixed JWKS for the real token verifier.
type keySource struct {
	keys []oidc.Key
}

func (k keySource) Key(_ context.Context, kid string) (oidc.Key, error) {
	if len(k.keys) == 0 {
		return oidc.Key{}, oidc.ErrKeysNotLoaded
	}
	for _, key := range k.keys {
		if key.ID == kid {
			return key, nil
		}
	}
	return oidc.Key{}, oidc.ErrUnknownKey
}

func (k keySource) Keys() []oidc.Key { return k.keys }

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// TestTokenErrorDetailsFromTheRealVerifier runs token.Verifier on broken
// tokens, so the detail table follows what the verifier really says.
func TestTokenErrorDetailsFromTheRealVerifier(t *testing.T) {
	const iss, aud = "https://idp.example.com", "app"
	key := rsaKey()
	loaded := keySource{keys: []oidc.Key{{ID: "k1", Algorithm: "RS256", Use: "sig", Public: &key.PublicKey}}}
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": iss, "aud": aud, "sub": "s", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(c jwt.MapClaims, kid string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(claims(nil), "k1")
	cases := []struct {
		name, raw string
		keys      keySource
		detail    string
		reason    Reason
	}{
		{"expired", sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), "k1"), loaded, "expired", ReasonInvalidToken},
		{"not yet valid", sign(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), "k1"), loaded, "not_yet_valid", ReasonInvalidToken},
		{"future iat", sign(claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), "k1"), loaded, "issued_in_future", ReasonInvalidToken},
		{"wrong audience", sign(claims(func(c jwt.MapClaims) { c["aud"] = "other" }), "k1"), loaded, "audience_not_accepted", ReasonInvalidToken},
		{"wrong issuer", sign(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }), "k1"), loaded, "issuer_not_trusted", ReasonInvalidToken},
		{"no exp", sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }), "k1"), loaded, "missing_claim", ReasonInvalidToken},
		{"bad signature", good[:len(good)-4] + "AAAA", loaded, "bad_signature", ReasonInvalidToken},
		{"unknown kid", sign(claims(nil), "k2"), loaded, "unknown_key", ReasonInvalidToken},
		{"garbage", "a.b.c", loaded, "malformed", ReasonInvalidToken},
		{"two parts", "abc.def", loaded, "malformed", ReasonInvalidToken},
		{"too large", strings.Repeat("a", 20001), loaded, "too_large", ReasonInvalidToken},
		{"keys not loaded", good, keySource{}, "keys_unavailable", ReasonKeysUnavailable},
		{"logout token", signTyped(t, key, claims(nil), "logout+jwt"), loaded, "wrong_type", ReasonInvalidToken},
		{"events claim", sign(claims(func(c jwt.MapClaims) { c["events"] = map[string]any{"x": map[string]any{}} }), "k1"), loaded, "wrong_type", ReasonInvalidToken},
		{"duplicate member", withDuplicateSub(t, good), loaded, "duplicate_member", ReasonInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := token.NewVerifier("p", token.Rules{Issuer: iss, Audiences: []string{aud}, ClockSkew: time.Second}, c.keys)
			_, err := v.Verify(context.Background(), c.raw)
			if err == nil {
				t.Fatal("the verifier accepted the token")
			}
			var te *token.Error
			if !errors.As(err, &te) || te.Code == "" {
				t.Errorf("%q reaches the handler without a token.Code", err)
			}
			if got := TokenErrorDetail(err); got != c.detail {
				t.Errorf("TokenErrorDetail(%q) = %s, want %s", err, got, c.detail)
			}
			if got := ReasonForTokenError(err); got != c.reason {
				t.Errorf("ReasonForTokenError(%q) = %s, want %s", err, got, c.reason)
			}
		})
	}
	if TokenErrorDetail(errors.New("x")) != "other" || ReasonForTokenError(errors.New("x")) != ReasonInvalidToken {
		t.Error("a foreign error does not map to other / invalid_token")
	}
}

// signTyped signs claims with kid k1 and the given typ header.
func signTyped(t *testing.T, key *rsa.PrivateKey, c jwt.MapClaims, typ string) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"], tok.Header["typ"] = "k1", typ
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withDuplicateSub rewrites a token's payload to repeat "sub" (the
// signature no longer matters: the parser refuses the payload first).
func withDuplicateSub(t *testing.T, raw string) string {
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dup := `{"sub":"other",` + string(payload[1:])
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(dup)) + "." + parts[2]
}

// TestTokenErrorDetailIsTheCode: the detail is the code the error was made
// with, whatever its wording; an error without a code is "other".
func TestTokenErrorDetailIsTheCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&token.Error{Kind: token.Unavailable, Code: token.CodeRateLimited, Description: "reworded"}, "rate_limited"},
		{&token.Error{Kind: token.Invalid, Code: token.CodeAudienceNotAccepted, Description: "token expired"}, "audience_not_accepted"},
		{fmt.Errorf("wrapped: %w", &token.Error{Code: token.CodeRejectedByProvider}), "rejected_by_provider"},
		{&token.Error{Kind: token.Invalid, Description: "token expired"}, "other"},
	} {
		if got := TokenErrorDetail(c.err); got != c.want {
			t.Errorf("TokenErrorDetail(%q) = %s, want %s", c.err, got, c.want)
		}
	}
}
