package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
)

// optionalSite is a login route with a Redis session store (so a logout
// ends a session everywhere) where /opt/* is optional, /opt/admin/* needs a
// scope, /opt/public/* is public, the access token is relayed, and Caddy's
// own request_header, after edgeauth, sets headers from the identity and
// token placeholders.
func optionalSite(e *env, redisAddr string) string {
	prov := e.providerBlock("demo", "scopes openid profile aliuid email")
	sess := fmt.Sprintf("secret %s\n\t\t\tstore redis {\n\t\t\t\taddress %s\n\t\t\t\tkey_prefix edgeauth-optional-test:\n\t\t\t}", secretNew, redisAddr)
	return e.globals(prov+"\n\t\tsession {\n\t\t\t"+sess+"\n\t\t}") + fmt.Sprintf(`http://127.0.0.1:%d {
	route {
		edgeauth demo {
			login {
				param login_hint alice
				param access_type offline
			}
			optional /opt/*
			public /opt/public/*
			scope /opt/admin/* admin
			header X-Relay-Access {http.auth.access_token}
			pass_access_token
		}
		request_header X-Caddy-User "u={http.auth.user.id}"
		request_header X-Caddy-Token "t={http.auth.access_token}"
		reverse_proxy %s
	}
}
`, e.port, e.upstream)
}

// identityHeaders lists every header the upstream received that an
// identity could have set: X-Auth-* in any spelling, the relayed token, and
// Authorization.
func identityHeaders(got echo) []string {
	var out []string
	for k, v := range got.Headers {
		n := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		if strings.HasPrefix(n, "x-auth-") || n == "x-relay-access" || n == "authorization" {
			out = append(out, k+": "+strings.Join(v, ","))
		}
	}
	return out
}

// TestOptionalIdentity: on an optional path, no credential passes
// anonymously (no login redirect, even for a browser navigation) with every
// identity header stripped — spoofed ones in any spelling, via Connection,
// `_` or case, included — and every identity and token placeholder empty; a
// valid bearer token or session gives the identity; an invalid bearer token
// is 401 invalid_token; a session logged out between two requests (its
// cookie replayed) or whose refresh failed passes anonymously. Scope rules
// and public patterns win over optional. Anonymous passes are counted as
// optional_anonymous.
func TestOptionalIdentity(t *testing.T) {
	const ttl = 3 * time.Second
	e := newEnv(t, demoidp.Options{AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl})
	e.serverOpts = append(e.serverOpts, "expected_underscore_headers x_auth_* x_relay_*")
	redis := redistest.Start(t)
	e.start(optionalSite(e, redis.Addr()))
	e.waitReady()
	const aliceSub = "2000000000000002"
	// A browser navigation to the gateway (Accept names text/html) that the
	// whoami upstream still answers in JSON.
	const navigation = "Accept: application/json, text/html"

	anonymous := func(what string, got echo) {
		t.Helper()
		if h := identityHeaders(got); len(h) != 0 {
			t.Errorf("%s: the upstream got identity headers %v", what, h)
		}
		if got.header("X-Caddy-User") != "u=" || got.header("X-Caddy-Token") != "t=" {
			t.Errorf("%s: placeholders gave X-Caddy-User %q, X-Caddy-Token %q; want them empty", what, got.header("X-Caddy-User"), got.header("X-Caddy-Token"))
		}
	}
	counted := func(what string, want float64, send func()) {
		t.Helper()
		before := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_decisions_total", "reason=optional_anonymous")
		send()
		if d := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_decisions_total", "reason=optional_anonymous") - before; d != want {
			t.Errorf("%s: optional_anonymous grew by %v, want %v", what, d, want)
		}
	}

	// No credential: API and browser navigation alike.
	counted("anonymous", 2, func() {
		anonymous("anonymous API", e.upstreamSaw(e.get("/opt/x", "")))
		anonymous("anonymous navigation", e.upstreamSaw(e.get("/opt/x", "", navigation)))
	})

	// Spoofed identity headers, raw on the wire.
	host := fmt.Sprintf("Host: 127.0.0.1:%d", e.port)
	spoof := []string{
		"X-Auth-Subject: 1000000000000000", "x-auth-upn: root@example.com", "X-AUTH-EMAIL: root@example.com",
		"X_Auth_Subject: 1000000000000000", "X-Auth-Assertion: forged", "X-Relay-Access: forged",
		"Connection: X-Caddy-User, X-Caddy-Token", "Authorization: Basic cm9vdDpyb290",
	}
	a := e.rawRequests(strings.Join(append([]string{"GET /opt/x HTTP/1.1", host}, spoof...), "\r\n"))[0]
	anonymous("spoofed headers", e.upstreamSaw(&http.Response{StatusCode: a.status}, a.body))

	// A valid bearer token: the identity, the token, the placeholders.
	tok := e.aliceToken()
	a = e.rawRequests(strings.Join(append([]string{"GET /opt/x HTTP/1.1", host, "Authorization: Bearer " + tok}, spoof[:7]...), "\r\n"))[0]
	got := e.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
	if got.header("X-Auth-Subject") != aliceSub || got.header("X-Auth-Upn") != "alice@example.onaliyun.com" || got.header("X-Auth-Assertion") == "forged" ||
		got.header("X-Relay-Access") != tok || got.header("Authorization") != "Bearer "+tok ||
		got.header("X-Caddy-User") != "u="+aliceSub || got.header("X-Caddy-Token") != "t="+tok {
		t.Errorf("bearer: upstream got %v, X-Caddy-User %q", identityHeaders(got), got.header("X-Caddy-User"))
	}

	// An invalid or expired bearer token is refused, never passed
	// anonymously nor redirected.
	for name, bad := range map[string]string{
		"garbage": "not-a-token",
		"expired": e.aliceToken(demoidp.WithClaims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})),
		"forged":  tok[:len(tok)-4] + "AAAA",
	} {
		for _, accept := range []string{"application/json", "text/html"} {
			resp, body := e.get("/opt/x", bad, "Accept: "+accept)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s bearer (%s): %d %q; want 401 invalid_token; %.200s", name, accept, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
	}

	// A DPoP-scheme token is judged, never passed anonymously.
	if resp, _ := e.get("/opt/x", "", "Authorization: DPoP "+tok); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("DPoP-scheme token: %d, want 401", resp.StatusCode)
	}

	// Rules and public patterns win over optional.
	if resp, _ := e.get("/opt/admin/x", "", "Accept: text/html"); resp.StatusCode != http.StatusFound {
		t.Errorf("/opt/admin/x (scope rule) anonymous navigation: %d, want 302 to login", resp.StatusCode)
	}
	if resp, _ := e.get("/opt/admin/x", tok); resp.StatusCode != http.StatusForbidden {
		t.Errorf("/opt/admin/x without the scope: %d, want 403", resp.StatusCode)
	}
	if h := identityHeaders(e.upstreamSaw(e.get("/opt/public/x", "", "X-Auth-Subject: 1000000000000000"))); len(h) != 0 {
		t.Errorf("/opt/public/x (public and optional): upstream got %v", h)
	}

	// A session: the identity, and its access token as Authorization
	// (whatever the client sent).
	b := e.newCookieClient("")
	b.login("/")
	got = e.upstreamSaw(b.api("/opt/x", "Authorization: Basic cm9vdDpyb290", "X-Auth-Subject: 1000000000000000"))
	access := got.header("X-Relay-Access")
	if got.header("X-Auth-Subject") != aliceSub || access == "" || got.header("Authorization") != "Bearer "+access || got.header("X-Caddy-User") != "u="+aliceSub {
		t.Errorf("session: upstream got %v, X-Caddy-User %q", identityHeaders(got), got.header("X-Caddy-User"))
	}

	// Logged out between two requests: the replayed cookie passes
	// anonymously, with no redirect.
	saved := b.cookies()
	if h := b.do(http.MethodPost, e.url("/oauth2/logout"), url.Values{}); h.Status != http.StatusFound || len(b.sessionCookies()) != 0 {
		t.Fatalf("logout: %d, %d session cookies left", h.Status, len(b.sessionCookies()))
	}
	b.setCookies(saved)
	counted("logged out", 2, func() {
		anonymous("replayed cookie after logout", e.upstreamSaw(b.api("/opt/x")))
		anonymous("replayed cookie after logout, navigation", e.upstreamSaw(b.api("/opt/x", navigation)))
	})
	if resp, _ := b.api("/x"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the replayed cookie on a protected path: %d, want 401", resp.StatusCode)
	}

	// A session whose refresh fails once its tokens expired: anonymous,
	// and its cookie is cleared.
	b2 := e.newCookieClient("")
	b2.login("/")
	loggedIn := time.Now()
	time.Sleep(time.Until(loggedIn.Add(ttl + 1200*time.Millisecond)))
	e.idp.SetDown(true)
	counted("refresh failed", 1, func() {
		anonymous("refresh failed", e.upstreamSaw(b2.api("/opt/x", navigation)))
	})
	e.idp.SetDown(false)
	if len(b2.sessionCookies()) != 0 {
		t.Error("the ended session's cookie was not cleared")
	}
}

// TestOptionalSTS: on an optional STS route an anonymous request passes
// with no exchange and no credentials (spoofed X-Sts-* stripped); a caller
// with a valid token is exchanged as on a protected route.
func TestOptionalSTS(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba\n\t\toptional /opt/*\n")
	got := w.upstreamSaw(w.get("/opt/x", "", "X-Sts-Access-Key-Id: forged", "X-Sts-Security-Token: forged"))
	for k := range got.Headers {
		if n := strings.ToLower(k); strings.HasPrefix(n, "x-sts-") || strings.HasPrefix(n, "x-auth-") {
			t.Errorf("anonymous: the upstream got %s", k)
		}
	}
	if n := len(w.issued()); n != 0 {
		t.Errorf("anonymous: %d STS exchanges, want none", n)
	}
	got = w.upstreamSaw(w.get("/opt/x", w.aliceToken()))
	if got.header("X-Sts-Access-Key-Id") == "" || got.header("X-Auth-Subject") != "2000000000000002" || len(w.issued()) != 1 {
		t.Errorf("bearer: key ID %q, subject %q, %d exchanges; want credentials after one exchange", got.header("X-Sts-Access-Key-Id"), got.header("X-Auth-Subject"), len(w.issued()))
	}
}
