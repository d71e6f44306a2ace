package login

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// keysNotLoaded is a provider key source whose JWKS has not loaded (the
// provider's key endpoint is unreachable): what oidc.Provider answers then.
type keysNotLoaded struct{}

func (keysNotLoaded) Key(context.Context, string) (oidc.Key, error) {
	return oidc.Key{}, oidc.ErrKeysNotLoaded
}
func (keysNotLoaded) Keys() []oidc.Key { return nil }

// otherKeys is a loaded key source that holds another key under the test
// OP's key ID, so the OP's signatures do not verify.
type otherKeys struct{ key *rsa.PublicKey }

func (k otherKeys) Key(_ context.Context, kid string) (oidc.Key, error) {
	if kid != "k1" {
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return oidc.Key{ID: "k1", Public: k.key}, nil
}
func (k otherKeys) Keys() []oidc.Key { return []oidc.Key{{ID: "k1", Public: k.key}} }

// TestCallbackKeyOutageIs503: when the ID token cannot be checked because
// the provider's signing keys are not loaded (an outage: retrying helps),
// the callback answers the outage page, 503 with Retry-After, and sets no
// session; an ID token whose signature fails with loaded keys stays a 400
// "not valid" without Retry-After.
func TestCallbackKeyOutageIs503(t *testing.T) {
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		keys   token.KeySource
		status int
		text   string
	}{
		{"keys not loaded", keysNotLoaded{}, http.StatusServiceUnavailable, "signing keys could not be loaded"},
		{"bad signature", otherKeys{&wrong.PublicKey}, http.StatusBadRequest, "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			late := new(lateVerifier)
			e := newEnv(t, false, func(c *FlowConfig) { c.IDTokens = late })
			bearer := token.Rules{Issuer: e.op.issuer(), Audiences: []string{"some-api"}, ClockSkew: 30 * time.Second}
			late.v.Store(token.NewVerifier("testop", token.IDTokenRules(bearer, e.op.clientID), tc.keys))
			c := e.browser(t, false)
			start, _ := navigate(t, c, "GET", e.srv.URL+"/app")
			cb := step(t, c, start)
			loc, _ := cb.Location()
			resp, body := navigate(t, c, "GET", loc.String())
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.text) {
				t.Fatalf("callback: %d %q, want %d containing %q", resp.StatusCode, body, tc.status, tc.text)
			}
			if ra := resp.Header.Get("Retry-After"); (tc.status == http.StatusServiceUnavailable) != (ra != "") {
				t.Errorf("status %d with Retry-After %q", resp.StatusCode, ra)
			}
			if _, err := e.sessionOf(c); err == nil {
				t.Error("a session was set")
			}
		})
	}
}
