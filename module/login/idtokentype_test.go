package login

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// opKeys is the test OP's signing key as a token.KeySource.
type opKeys struct{ op *testOP }

func (k opKeys) Key(_ context.Context, kid string) (oidc.Key, error) {
	if kid != k.op.idp.CurrentKID() {
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return oidc.Key{ID: kid, Public: k.op.idp.PublicKey(kid)}, nil
}
func (k opKeys) Keys() []oidc.Key {
	kid := k.op.idp.CurrentKID()
	return []oidc.Key{{ID: kid, Public: k.op.idp.PublicKey(kid)}}
}

// lateVerifier lets a test build the verifier once the OP exists.
type lateVerifier struct {
	v atomic.Pointer[token.Verifier]
}

func (l *lateVerifier) Verify(ctx context.Context, raw string) (*identity.Identity, error) {
	return l.v.Load().Verify(ctx, raw)
}

// newTypedEnv is a relying party whose ID tokens are checked by the token
// package's verifier with the rules the gateway uses (token.IDTokenRules).
func newTypedEnv(t *testing.T) *rpEnv {
	late := new(lateVerifier)
	e := newEnv(t, false, func(c *FlowConfig) { c.IDTokens = late })
	bearer := token.Rules{Issuer: e.op.issuer(), Audiences: []string{"some-api"}, ClockSkew: 30 * time.Second}
	late.v.Store(token.NewVerifier("testop", token.IDTokenRules(bearer, e.op.clientID), opKeys{e.op}))
	return e
}

// TestFinding10CallbackRefusesOtherTokenTypes: the login callback takes an
// ID token typed JWT or untyped, and refuses one typed logout+jwt or
// at+jwt, or carrying an events claim (an untyped logout token).
func TestFinding10CallbackRefusesOtherTokenTypes(t *testing.T) {
	for name, tc := range map[string]struct {
		typ    string
		extra  map[string]any
		wantOK bool
	}{
		"JWT":          {typ: "JWT", wantOK: true},
		"untyped":      {typ: "", wantOK: true},
		"logout+jwt":   {typ: "logout+jwt"},
		"at+jwt":       {typ: "application/at+jwt"},
		"events claim": {typ: "JWT", extra: map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newTypedEnv(t)
			e.op.set(func(op *testOP) { op.idTokenTyp, op.idTokenExtra = tc.typ, tc.extra })
			if tc.typ == "" {
				e.op.set(func(op *testOP) { op.idTokenTyp = "-" })
			}
			c := e.browser(t, true)
			resp, body := navigate(t, c, "GET", e.srv.URL+"/app")
			if got := resp.StatusCode == 200; got != tc.wantOK {
				t.Fatalf("login with an ID token typed %q: %d %.200s; want accepted=%v", tc.typ, resp.StatusCode, body, tc.wantOK)
			}
			if _, err := e.sessionOf(c); (err == nil) != tc.wantOK {
				t.Errorf("session after login: %v; want one=%v", err, tc.wantOK)
			}
		})
	}
}

// TestFinding10RefreshRefusesLogoutTypedIDToken: a refresh answer whose ID
// token is typed logout+jwt ends the session instead of replacing its
// claims.
func TestFinding10RefreshRefusesLogoutTypedIDToken(t *testing.T) {
	e := newTypedEnv(t)
	c := sessionWithShortTokens(t, e)
	e.op.set(func(op *testOP) { op.refreshIDToken, op.idTokenTyp = true, "logout+jwt" })
	resp, _ := navigate(t, c, "GET", e.srv.URL+"/api")
	// The browser is sent to log in again, where the provider's ID
	// token (still typed logout+jwt) is refused as well.
	if resp.StatusCode == 200 || e.op.refreshCalls.Load() != 1 {
		t.Fatalf("refresh with a logout-typed ID token: %d, %d refresh calls; want a refusal after one", resp.StatusCode, e.op.refreshCalls.Load())
	}
	if _, err := e.sessionOf(c); err == nil {
		t.Error("the session survived a refresh with a logout-typed ID token")
	}
}
