package integration

import (
	"net/http"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// Regression tests for what the red team found after the hardening fixes
// landed (issue 9, "then look for siblings"). Each failed on the code before
// its fix.

// TestRedTeamBoundTokenIsNotABearerToken: a JWT bound to a key (DPoP
// cnf.jkt, mTLS cnf["x5t#S256"]) is worthless without proof of that key;
// presented as Bearer it is refused, never passed as its subject.
func TestRedTeamBoundTokenIsNotABearerToken(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", ""))
	plain := e.mint(map[string]any{"sub": "alice"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/x", plain)
		return resp.StatusCode == http.StatusOK
	})
	for _, cnf := range []map[string]any{
		{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
		{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		{},
	} {
		resp, body := e.get("/x", e.mint(map[string]any{"sub": "alice", "cnf": cnf}))
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	}
}

// TestRedTeamScopesSplitOnSpaceOnly: RFC 6749 §3.3 separates scope tokens
// with %x20 only. A scope string joined by other white space (NBSP, VT, NEL,
// LINE SEPARATOR, TAB) is one invalid token, so it grants neither half: a
// provider that echoes a requested custom scope cannot be made to grant a
// protected one. The upstream's X-Auth-Scopes lists only real scope tokens.
func TestRedTeamScopesSplitOnSpaceOnly(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", "\t\tscope /dns/* /acs/alidns"))
	good := e.mint(map[string]any{"sub": "alice", "scope": "openid /acs/alidns"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/dns/x", good)
		return resp.StatusCode == http.StatusOK
	})
	for _, sep := range []string{"\u00a0", "\u000b", "\u0085", "\u2028", "\t", "\n"} {
		tok := e.mint(map[string]any{"sub": "mallory", "scope": "openid" + sep + "/acs/alidns"})
		resp, body := e.get("/dns/x", tok)
		assertError(t, resp, body, http.StatusForbidden, "insufficient_scope")
		got := e.upstreamSaw(e.get("/other", tok))
		if s := got.header("X-Auth-Scopes"); s != "" {
			t.Errorf("separator %q: upstream X-Auth-Scopes = %q, want none", sep, s)
		}
	}
	got := e.upstreamSaw(e.get("/dns/x", good))
	if s := got.header("X-Auth-Scopes"); s != "openid /acs/alidns" {
		t.Errorf("X-Auth-Scopes = %q", s)
	}
}
