package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// jwtPattern finds anything shaped like a JWT (two base64url JSON parts and
// a third): no log line may hold one.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)

// relayedToken is the bearer token in what the upstream received as
// Authorization ("" when none or another scheme).
func relayedToken(got echo) string {
	tok, ok := strings.CutPrefix(got.header("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return tok
}

// TestRelayPassAccessTokenAfterRefresh: with pass_access_token, a session
// request reaches the upstream with `Authorization: Bearer <the session's
// access token>` — a token the provider issued for alice (it verifies as a
// bearer token), replaced by the new one once the session is refreshed —
// whatever Authorization the client sent; a bearer request keeps its own.
// Caddy's logs at debug level (its own, the access log, reverse_proxy's
// upstream round trip) hold no token at all.
func TestRelayPassAccessTokenAfterRefresh(t *testing.T) {
	const ttl = 3 * time.Second
	e := newEnv(t, demoidp.Options{
		AutoApprove: true, AccessTokenTTL: ttl, IDTokenTTL: ttl,
		RotateRefreshTokens: true, RefreshReturnsIDToken: true,
	})
	logFile := writeFile(t, "caddy.log", "")
	accessFile := writeFile(t, "access.log", "")
	e.logOpts = []string{"output file " + logFile, "level DEBUG", "format json"}
	cfg := e.loginConfig(loginOpts{
		login: "param login_hint alice\n\t\t\tparam access_type offline",
		rules: "\t\tpass_access_token\n",
	})
	// The site's access log too.
	cfg = strings.Replace(cfg, "\treverse_proxy ", fmt.Sprintf("\tlog {\n\t\toutput file %s\n\t\tformat json\n\t}\n\treverse_proxy ", accessFile), 1)
	e.start(cfg)
	e.waitReady()
	b := e.newCookieClient("")
	b.login("/")
	loggedIn := time.Now()

	// verifiesAsAlice: the relayed token is the provider's, for alice.
	verifiesAsAlice := func(what, tok string) {
		t.Helper()
		if tok == "" {
			t.Fatalf("%s: the upstream got no bearer token", what)
		}
		got := e.upstreamSaw(e.get("/", tok))
		if got.header("X-Auth-Subject") != "2000000000000002" || relayedToken(got) != tok {
			t.Errorf("%s: the relayed token, presented as a bearer token, gave subject %q and Authorization %q", what, got.header("X-Auth-Subject"), got.header("Authorization"))
		}
	}

	first := relayedToken(e.upstreamSaw(b.api("/")))
	verifiesAsAlice("after login", first)

	// A client's own Authorization on a session request never reaches the
	// upstream: not another scheme, not a bearer-looking value the gateway
	// does not read as one.
	for _, sent := range []string{"Basic Zm9vOmJhcg==", "Bearer", "Bearer\tforged", "Token forged"} {
		got := e.upstreamSaw(b.api("/", "Authorization: "+sent))
		if got.header("Authorization") != "Bearer "+first || got.header("X-Auth-Subject") != "2000000000000002" {
			t.Errorf("client Authorization %q: upstream got Authorization %q, subject %q; want the session's token", sent, got.header("Authorization"), got.header("X-Auth-Subject"))
		}
	}

	// After the tokens expire the session is refreshed: the new token goes
	// upstream.
	before := e.idp.Counts().Token
	time.Sleep(time.Until(loggedIn.Add(ttl + 1200*time.Millisecond)))
	second := relayedToken(e.upstreamSaw(b.api("/")))
	if e.idp.Counts().Token-before != 1 {
		t.Errorf("%d token endpoint calls, want one refresh", e.idp.Counts().Token-before)
	}
	if second == first {
		t.Fatal("after a refresh the upstream still gets the first access token")
	}
	verifiesAsAlice("after refresh", second)

	// A bearer request keeps its own Authorization.
	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.upstreamSaw(e.get("/", bob)); got.header("Authorization") != "Bearer "+bob {
		t.Errorf("bearer request: upstream Authorization %q, want the caller's own", got.header("Authorization"))
	}

	// No token in any log line, at debug level.
	waitFor(t, "the access log", 5*time.Second, func() bool { return len(accessLog(t, accessFile)) >= 8 })
	for _, file := range []string{logFile, accessFile} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), "upstream roundtrip") && file == logFile {
			t.Errorf("%s has no reverse_proxy debug line: the test does not see debug logs", file)
		}
		for _, secret := range []string{first, second, bob, "Zm9vOmJhcg==", "forged"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s holds a token or credential (%.12s…)", file, secret)
			}
		}
		if m := jwtPattern.FindString(string(raw)); m != "" {
			t.Errorf("%s holds a JWT (%.20s…)", file, m)
		}
	}
}

// TestRelayTokenPlaceholders: {http.auth.access_token} and
// {http.auth.id_token} are a session's current tokens and, for a bearer
// request, the presented token and "". pass_access_token without login is
// refused at load, naming the fix.
func TestRelayTokenPlaceholders(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{
		login: "param login_hint alice",
		rules: "\t\theader X-Relay-Access {http.auth.access_token}\n\t\theader X-Relay-Id {http.auth.id_token}\n",
	})
	b := e.newCookieClient("")
	b.login("/")
	got := e.upstreamSaw(b.api("/", "X-Relay-Access: forged", "X-Relay-Id: forged"))
	access, id := got.header("X-Relay-Access"), got.header("X-Relay-Id")
	if access == "" || id == "" || access == id || access == "forged" || id == "forged" {
		t.Fatalf("session: access %.20q, id %.20q; want the session's two tokens", access, id)
	}
	if got.header("Authorization") != "" {
		t.Errorf("without pass_access_token the session's token went upstream as Authorization")
	}
	if sub := e.upstreamSaw(e.get("/", access)).header("X-Auth-Subject"); sub != "2000000000000002" {
		t.Errorf("the access token placeholder is not alice's access token (subject %q)", sub)
	}
	claims := decodeClaims(t, id)
	if claims["sub"] != "2000000000000002" || claims["aud"] != demoidp.DefaultClientID {
		t.Errorf("the ID token placeholder holds claims %v", claims)
	}

	tok := e.aliceToken()
	got = e.upstreamSaw(e.get("/", tok, "X-Relay-Id: forged"))
	if got.header("X-Relay-Access") != tok || got.header("X-Relay-Id") != "" {
		t.Errorf("bearer: access %.20q, id %.20q; want the presented token and none", got.header("X-Relay-Access"), got.header("X-Relay-Id"))
	}

	msg := loadError(t, e.globals(e.providerBlock("demo"))+e.site("edgeauth demo", "\t\tpass_access_token\n"))
	if !strings.Contains(msg, "pass_access_token") || !strings.Contains(msg, "add `login`") {
		t.Errorf("pass_access_token without login: %q", msg)
	}
}

// decodeClaims reads a JWT's payload without verifying it (the test has
// just received it from the gateway; its origin is checked otherwise).
func decodeClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}
