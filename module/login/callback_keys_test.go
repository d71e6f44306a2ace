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

// otherKeys is a loaded key source that holds another key than the test
// OP's under kid: with kid "k1" (the OP's) the OP's signatures do not
// verify, with any other its key ID is unknown — ErrKeysUnreachable when
// failing (the provider's latest key fetch failed), as oidc.Provider says.
type otherKeys struct {
	key     *rsa.PublicKey
	kid     string
	failing bool
}

func (k otherKeys) Key(_ context.Context, kid string) (oidc.Key, error) {
	if kid != k.kid {
		if k.failing {
			return oidc.Key{}, oidc.ErrKeysUnreachable
		}
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return oidc.Key{ID: k.kid, Public: k.key}, nil
}
func (k otherKeys) Keys() []oidc.Key { return []oidc.Key{{ID: k.kid, Public: k.key}} }

// TestCallbackKeyOutageIs503: when the ID token cannot be checked because
// the provider's signing keys are not loaded, or its key ID is unknown while
// the provider's keys cannot be fetched (an outage: retrying helps), the
// callback answers the outage page, 503 with Retry-After, and sets no
// session. An ID token whose signature fails with loaded keys, or whose key
// ID is still unknown after the keys were fetched, stays a 400 "not valid"
// without Retry-After.
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
		{"unknown kid, keys unreachable", otherKeys{&wrong.PublicKey, "k0", true}, http.StatusServiceUnavailable, "signing keys could not be loaded"},
		{"unknown kid, keys fetched", otherKeys{&wrong.PublicKey, "k0", false}, http.StatusBadRequest, "is not valid"},
		{"bad signature", otherKeys{&wrong.PublicKey, "k1", false}, http.StatusBadRequest, "is not valid"},
		{"bad signature, keys unreachable", otherKeys{&wrong.PublicKey, "k1", true}, http.StatusBadRequest, "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			late := new(lateVerifier)
			e := newEnv(t, false, func(c *FlowConfig) {
				c.IDTokens = late
			})
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

// TestRefreshKeyOutageKeepsSession: a refresh whose new ID token cannot be
// checked because the provider's keys cannot be loaded is the provider's
// outage, like an unreachable token endpoint: the session is used until
// its tokens expire instead of being ended. A refreshed ID token whose
// signature fails with loaded keys still ends the session.
func TestRefreshKeyOutageKeepsSession(t *testing.T) {
	wrong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keys token.KeySource
		kept bool
	}{
		{"keys not loaded", keysNotLoaded{}, true},
		{"bad signature", otherKeys{&wrong.PublicKey, "k1", false}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTypedEnv(t)
			c := sessionWithShortTokens(t, e)
			before, err := e.sessionOf(c)
			if err != nil {
				t.Fatal(err)
			}
			bearer := token.Rules{Issuer: e.op.issuer(), Audiences: []string{"some-api"}, ClockSkew: 30 * time.Second}
			e.flow.cfg.IDTokens.(*lateVerifier).v.Store(token.NewVerifier("testop", token.IDTokenRules(bearer, e.op.clientID), tc.keys))
			e.op.set(func(op *testOP) { op.refreshIDToken = true })

			req, _ := http.NewRequest("GET", e.srv.URL+"/api", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if e.op.refreshCalls.Load() != 1 {
				t.Fatalf("%d refresh calls, want 1", e.op.refreshCalls.Load())
			}
			after, err := e.sessionOf(c)
			if tc.kept {
				if resp.StatusCode != http.StatusOK || err != nil || after.ID != before.ID || after.AccessToken != before.AccessToken {
					t.Errorf("refresh during a key outage: %d, session %v (err %v); want the old session kept", resp.StatusCode, after != nil, err)
				}
				return
			}
			if resp.StatusCode != http.StatusUnauthorized || err == nil {
				t.Errorf("refresh with a badly signed ID token: %d, session err %v; want 401 and the session ended", resp.StatusCode, err)
			}
		})
	}
}
