package login

import (
	"slices"
	"strings"
	"testing"
)

// TestSiblingStepUpOmittedScopeUsesAccessTokenClaim: a provider that
// leaves `scope` out of its token answer but issues JWT access tokens
// grants what their scope claim says, not what was asked: a step-up to a
// scope the provider refused ends in 403 after one trip, never in access.
func TestSiblingStepUpOmittedScopeUsesAccessTokenClaim(t *testing.T) {
	e := newEnv(t, false, func(c *FlowConfig) { c.Scopes = []string{"openid", "profile"} })
	e.op.set(func(op *testOP) { op.omitScope, op.jwtAccessTokens, op.denyScopes = true, true, []string{"admin"} })
	c := e.browser(t, true)
	if resp, body := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	resp, body := navigate(t, c, "GET", e.srv.URL+"/admin?need=admin")
	if resp.StatusCode != 403 || e.op.authorizeCalls.Load() != 2 {
		t.Fatalf("step-up to a refused scope, scope omitted: %d %s, %d authorize calls; want 403 after one more", resp.StatusCode, body, e.op.authorizeCalls.Load())
	}
	s, _ := e.sessionOf(c)
	if slices.Contains(s.Scopes, "admin") || !slices.Contains(s.Refused, "admin") || !slices.Contains(s.Scopes, "profile") {
		t.Errorf("session scopes %v refused %v; want admin refused, profile kept", s.Scopes, s.Refused)
	}
}

// TestSiblingStepUpOmittedScopeOpaqueTokenIsAsRequested: with an opaque
// access token and no scope member, RFC 6749 §5.1 says the grant is what
// was requested: that is the documented rule.
func TestSiblingStepUpOmittedScopeOpaqueTokenIsAsRequested(t *testing.T) {
	e := newEnv(t, false, func(c *FlowConfig) { c.Scopes = []string{"openid", "profile"} })
	e.op.set(func(op *testOP) { op.omitScope = true })
	c := e.browser(t, true)
	if resp, body := navigate(t, c, "GET", e.srv.URL+"/app"); resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	s, _ := e.sessionOf(c)
	if strings.Join(s.Scopes, " ") != "openid profile" || len(s.Refused) != 0 {
		t.Errorf("session scopes %v refused %v; want the requested ones", s.Scopes, s.Refused)
	}
}

// TestSiblingRefreshNeverWidensScopes: a refresh asks for no new scope
// (RFC 6749 §6), so its answer never widens the session's scopes, whether
// the answer names more scopes or omits scope with a JWT access token
// claiming more; a narrower grant narrows the session.
func TestSiblingRefreshNeverWidensScopes(t *testing.T) {
	wider := "openid aliuid profile admin"
	for name, knob := range map[string]func(op *testOP){
		"scope member wider":     func(op *testOP) { op.refreshScope = &wider },
		"omitted, JWT AT wider":  func(op *testOP) { op.jwtAccessTokens, op.refreshATScopes = true, strings.Fields(wider) },
		"omitted, opaque AT":     func(op *testOP) {},
		"omitted, JWT AT narrow": func(op *testOP) { op.jwtAccessTokens, op.refreshATScopes = true, []string{"openid"} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, false, nil)
			c := sessionWithShortTokens(t, e)
			before, _ := e.sessionOf(c)
			e.op.set(func(op *testOP) { op.refreshExpiresIn = 3600; knob(op) })
			if resp, body := navigate(t, c, "GET", e.srv.URL+"/api"); resp.StatusCode != 200 || e.op.refreshCalls.Load() != 1 {
				t.Fatalf("refresh: %d %s, %d calls", resp.StatusCode, body, e.op.refreshCalls.Load())
			}
			after, _ := e.sessionOf(c)
			want := strings.Join(before.Scopes, " ")
			if name == "omitted, JWT AT narrow" {
				want = "openid"
			}
			if got := strings.Join(after.Scopes, " "); got != want {
				t.Errorf("scopes after refresh %q, want %q (before: %q)", got, want, strings.Join(before.Scopes, " "))
			}
		})
	}
}
