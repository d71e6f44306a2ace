package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
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

// TestRedTeamConnectionCannotDropOperatorHeaders: headers the operator sets
// from {http.auth.user.*} with request_header after the directive cannot be
// dropped by naming them in Connection or Proxy-Connection (reverse_proxy
// deletes what Connection names); the caller's own copies of the headers it
// named never reach the upstream either.
func TestRedTeamConnectionCannotDropOperatorHeaders(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + fmt.Sprintf(`http://127.0.0.1:%d {
	edgeauth demo
	request_header X-Remote-User {http.auth.user.id}
	reverse_proxy %s
}
`, e.port, e.upstream))
	tok := e.mint(map[string]any{"sub": "alice"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/x", tok)
		return resp.StatusCode == http.StatusOK
	})
	for _, conn := range []string{
		"Connection: X-Remote-User",
		"Connection: keep-alive, x-remote-user",
		"Proxy-Connection: X-Remote-User",
		"Connection: close\r\nConnection: X-Client-Hop",
	} {
		answers := e.rawRequests(fmt.Sprintf("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nX-Client-Hop: mine\r\n%s", tok, conn))
		if answers[0].status != http.StatusOK {
			t.Fatalf("%q: status %d %s", conn, answers[0].status, answers[0].body)
		}
		var got echo
		if err := json.Unmarshal(answers[0].body, &got); err != nil {
			t.Fatalf("%q: %v", conn, err)
		}
		if v := got.header("X-Remote-User"); v != "alice" {
			t.Errorf("%q: upstream X-Remote-User = %q, want alice", conn, v)
		}
		if strings.Contains(conn, "X-Client-Hop") && got.header("X-Client-Hop") != "" {
			t.Errorf("%q: the caller's hop-by-hop header reached the upstream", conn)
		}
	}
}

// TestRedTeamSubjectWithControlBytesRefused: sanitizing "bob\x00" would give
// bob's X-Auth-Subject to another token; a subject with control characters,
// or an empty one, is refused instead, and nothing reaches the upstream.
func TestRedTeamSubjectWithControlBytesRefused(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", ""))
	bob := e.mint(map[string]any{"sub": "2000000000000003"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/x", bob)
		return resp.StatusCode == http.StatusOK
	})
	for _, sub := range []string{"2000000000000003\u0000", "2000000000000003\r\n", "\u0000", "", "2000000000000003\u0085"} {
		resp, body := e.get("/x", e.mint(map[string]any{"sub": sub}))
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	}
}

// TestRedTeamPrefixRuleCoversItsBase: `scope /dns/* …` leaves neither /dns
// nor its case and ;param variants open (red team F10): upstreams such as
// Express routers serve /dns with the /dns/ handler.
func TestRedTeamPrefixRuleCoversItsBase(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", "\t\tscope /dns/* /acs/alidns"))
	without := e.mint(map[string]any{"sub": "bob", "scope": "openid"})
	with := e.mint(map[string]any{"sub": "alice", "scope": "openid /acs/alidns"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/dns", with)
		return resp.StatusCode == http.StatusOK
	})
	for _, path := range []string{"/dns", "/DNS", "/dns;x", "/dns/"} {
		resp, body := e.get(path, without)
		assertError(t, resp, body, http.StatusForbidden, "insufficient_scope")
	}
	// An encoded ? or # ends the path for a server that decodes and parses
	// it again, so /dns%3f would be /dns there: refused (second red-team
	// pass), as are a raw # and the other path variants.
	for _, target := range []string{"/dns%3f", "/dns%3F/x", "/dns%23", "/dns#"} {
		if status, body := e.rawRequest("GET", target, "Authorization: Bearer "+without); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s, want 400", target, status, body)
		}
	}
}
