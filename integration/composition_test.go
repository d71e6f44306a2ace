package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/mholt/caddy-ratelimit" // test-only: the README's per-user rate limit example

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// The README's "Composing with Caddy" examples, run as written: the test
// takes each ```caddyfile block from the README, swaps the example addresses
// for loopback ones and the global provider block for the demo provider, and
// checks the behaviour the README promises.

// readmeExample returns the README's caddyfile block that contains marker.
func readmeExample(t *testing.T, marker string) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, block := range strings.Split(string(raw), "```caddyfile\n")[1:] {
		example, _, _ := strings.Cut(block, "```")
		if strings.Contains(example, marker) {
			found = append(found, example)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the README has %d caddyfile blocks containing %q, want 1", len(found), marker)
	}
	return found[0]
}

// sitesOf drops an example's global options block (if any) and puts the
// test's addresses in place of the README's.
func (e *env) sitesOf(example string, addrs map[string]string) string {
	if strings.HasPrefix(example, "{\n") {
		_, example, _ = strings.Cut(example, "\n}\n")
	}
	for from, to := range addrs {
		example = strings.ReplaceAll(example, from, to)
	}
	return example
}

// composeGlobals is the global block with the demo provider named "corp",
// as the README examples call it.
func (e *env) composeGlobals() string {
	return e.globals(e.providerBlock("corp", "max_token_age 12h", "thumbprints "+e.idp.CAThumbprint()))
}

// waitForKeys waits until a valid token passes on path.
func (e *env) waitForKeys(path, token string) {
	e.t.Helper()
	waitFor(e.t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get(path, token)
		return resp.StatusCode != http.StatusServiceUnavailable
	})
}

// send sends a request with a method and bearer token.
func (e *env) send(method, path, bearer string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url(path), nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header[name] = append(req.Header[name], strings.TrimSpace(value))
	}
	return e.do(req)
}

// TestComposeExpressionMatcher: a CEL expression on {http.auth.user.type} in
// a directive after edgeauth sees the identity edgeauth set.
func TestComposeExpressionMatcher(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	site := e.sitesOf(readmeExample(t, "expression "), map[string]string{
		"app.example.com": fmt.Sprintf("http://127.0.0.1:%d", e.port),
		"127.0.0.1:8080":  e.upstream,
	})
	e.start(e.composeGlobals() + site)
	alice := e.aliceToken() // type user
	root, err := e.idp.MintFor("root", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitForKeys("/", alice)

	for _, c := range []struct {
		method, token, who string
		want               int
	}{
		{http.MethodGet, alice, "alice (user)", http.StatusOK},
		{http.MethodPost, alice, "alice (user)", http.StatusForbidden},
		{http.MethodDelete, alice, "alice (user)", http.StatusForbidden},
		{http.MethodGet, root, "root (account)", http.StatusOK},
		{http.MethodPost, root, "root (account)", http.StatusOK},
		{http.MethodPost, "", "nobody", http.StatusUnauthorized},
	} {
		resp, body := e.send(c.method, "/things", c.token)
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.who, c.method, resp.StatusCode, body, c.want)
		}
		// edgeauth's own 403 carries a Bearer challenge and a JSON body;
		// the `error` directive's has neither (no handle_errors here).
		if c.want == http.StatusForbidden && (resp.Header.Get("WWW-Authenticate") != "" || len(body) != 0) {
			t.Errorf("%s %s: the 403 is not the expression route's: %q %s", c.who, c.method, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
}

// TestComposeRateLimitPerUser: caddy-ratelimit keyed on {http.auth.user.id}
// inside a route after edgeauth counts each user separately; in a plain site
// block it runs before edgeauth and every caller shares one bucket (the
// pitfall the README warns about).
func TestComposeRateLimitPerUser(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	example := readmeExample(t, "rate_limit")
	if !strings.Contains(example, "events 100") {
		t.Fatalf("the README example changed; update this test:\n%s", example)
	}
	addrs := map[string]string{
		"api.example.com": fmt.Sprintf("http://127.0.0.1:%d", e.port),
		"127.0.0.1:8080":  e.upstream,
		"events 100":      "events 2",
		"window 1m":       "window 1h",
		"zone per_user":   "zone per_user_route",
	}
	e.start(e.composeGlobals() + e.sitesOf(example, addrs))
	alice := e.aliceToken()
	bob, err := e.idp.MintFor("bob", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	e.waitForKeys("/", alice) // one of alice's two
	if resp, body := e.get("/", alice); resp.StatusCode != http.StatusOK {
		t.Fatalf("alice's second request: %d %s", resp.StatusCode, body)
	}
	resp, _ := e.get("/", alice)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("alice's third request: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for i := 0; i < 2; i++ {
		if resp, body := e.get("/", bob); resp.StatusCode != http.StatusOK {
			t.Errorf("bob's request %d after alice hit her limit: %d %s, want 200 (his own bucket)", i+1, resp.StatusCode, body)
		}
	}
	for i := 0; i < 3; i++ {
		if resp, _ := e.get("/", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous request %d: %d, want 401 from edgeauth before the limiter", i+1, resp.StatusCode)
		}
	}
	if resp, _ := e.get("/", bob); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("bob's third request: %d, want 429", resp.StatusCode)
	}

	// The pitfall: the same directives without `route`.
	plain := strings.Replace(strings.Replace(e.sitesOf(example, addrs), "\troute {\n", "", 1), "\t\t}\n\t}\n\treverse_proxy", "\t\t}\n\treverse_proxy", 1)
	plain = strings.ReplaceAll(plain, "per_user_route", "per_user_plain")
	if strings.Contains(plain, "route") {
		t.Fatalf("could not unwrap the route:\n%s", plain)
	}
	e.start(e.composeGlobals() + plain)
	e.waitForKeys("/", alice) // alice: 1 of the shared 2
	e.get("/", alice)         // 2 of 2
	if resp, _ := e.get("/", bob); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("without route, bob after alice's two: %d, want 429 (one shared bucket: the limiter ran before edgeauth)", resp.StatusCode)
	}
}

// startForwardAuthRecipe runs the README's forward_auth recipe as written:
// the front site on Caddy's port, the auth site (edgeauth) on another port of
// the same Caddy, proxying to whoami.
func startForwardAuthRecipe(t *testing.T) *env {
	e := newEnv(t, demoidp.Options{})
	back := freePort(t)
	addrs := map[string]string{
		"app.example.com":    fmt.Sprintf("http://127.0.0.1:%d", e.port),
		"auth.internal:9000": fmt.Sprintf("127.0.0.1:%d", back),
		"127.0.0.1:8080":     e.upstream,
	}
	e.start(e.composeGlobals() + e.sitesOf(readmeExample(t, "respond 200"), addrs) + "\n" + e.sitesOf(readmeExample(t, "forward_auth"), addrs))
	return e
}

// TestComposeForwardAuth: a front Caddy with forward_auth to a Caddy running
// edgeauth. The identity reaches the upstream, the auth Caddy's rules apply
// to the original path, refusals pass through, and a client of the front
// cannot forge the identity headers (exact names, other case, `_` variants).
func TestComposeForwardAuth(t *testing.T) {
	e := startForwardAuthRecipe(t)
	user := e.mint(map[string]any{"sub": "u-100", "email": "user@example.com", "scope": "openid"})
	admin := e.mint(map[string]any{"sub": "u-200", "email": "admin@example.com", "scope": "openid admin"})
	e.waitForKeys("/", user)

	got := e.upstreamSaw(e.get("/orders?x=1", user))
	if got.header("X-Auth-Subject") != "u-100" || got.header("X-Auth-Email") != "user@example.com" || got.Path != "/orders" {
		t.Errorf("identity through forward_auth: %s %v", got.Path, got.Headers)
	}
	if resp, body := e.get("/admin/x", user); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("user on /admin/x: %d %q %s, want edgeauth's 403 (the scope rule saw the original path)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if got := e.upstreamSaw(e.get("/admin/x", admin)); got.header("X-Auth-Subject") != "u-200" {
		t.Errorf("admin on /admin/x: %v", got.Headers)
	}
	if resp, _ := e.get("/", ""); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q, want edgeauth's 401", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// Forgery by the front's client.
	forged := []string{"X-Auth-Subject: mallory", "x-auth-email: mallory@evil.example", "X-Auth_Subject: mallory", "X-AUTH_EMAIL: mallory@evil.example", "X-Auth-Groups: admins"}
	if resp, body := e.get("/", "", forged...); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged headers without a token: %d %s, want 401", resp.StatusCode, body)
	}
	got = e.upstreamSaw(e.get("/", user, forged...))
	for name, values := range got.Headers {
		if strings.HasPrefix(strings.ToLower(name), "x-auth") {
			want := map[string]string{"X-Auth-Subject": "u-100", "X-Auth-Email": "user@example.com"}[name]
			if len(values) != 1 || values[0] != want {
				t.Errorf("upstream got %s: %q, want only %q", name, values, want)
			}
		}
	}
	if got.header("X-Auth-Subject") != "u-100" {
		t.Errorf("the identity is missing after a forgery attempt: %v", got.Headers)
	}
}

// TestRedTeamForwardAuthConnectionCannotDropIdentity: in the README's
// forward_auth recipe, a caller of the front Caddy (plain Caddy, no
// edgeauth) that names the copied identity headers in Connection cannot make
// the front's reverse_proxy drop them: the upstream still gets the subject
// and e-mail the auth Caddy answered. Raw requests, so the header goes out
// exactly as written, several on one connection (keep-alive still works).
func TestRedTeamForwardAuthConnectionCannotDropIdentity(t *testing.T) {
	e := startForwardAuthRecipe(t)
	user := e.mint(map[string]any{"sub": "u-100", "email": "user@example.com", "scope": "openid"})
	e.waitForKeys("/", user)

	host := fmt.Sprintf("Host: 127.0.0.1:%d", e.port)
	auth := "Authorization: Bearer " + user
	conns := []string{
		"Connection: X-Auth-Subject",
		"Connection: keep-alive, X-Auth-Subject, X-Auth-Email",
		"Connection: x-auth-email\r\nConnection: X-AUTH-SUBJECT",
		"Connection: X-Auth-Subject, X-Auth-Email\r\nX-Auth-Subject: mallory",
	}
	var heads []string
	for _, c := range conns {
		heads = append(heads, strings.Join([]string{"GET /orders HTTP/1.1", host, auth, c}, "\r\n"))
	}
	heads = append(heads, strings.Join([]string{"GET /orders HTTP/1.0", host, auth, "Connection: keep-alive, X-Auth-Subject"}, "\r\n"))
	answers := e.rawRequests(heads...)
	for i, a := range answers {
		got := e.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
		if got.header("X-Auth-Subject") != "u-100" || got.header("X-Auth-Email") != "user@example.com" {
			t.Errorf("request %d (%q): the upstream got X-Auth-Subject %q, X-Auth-Email %q, want u-100 and user@example.com",
				i+1, strings.Split(heads[i], "\r\n")[3:], got.header("X-Auth-Subject"), got.header("X-Auth-Email"))
		}
		if n := len(got.Headers["X-Auth-Subject"]); n > 1 {
			t.Errorf("request %d: X-Auth-Subject arrived %d times", i+1, n)
		}
	}
	// A claim the token lacks: the header arrives empty, never the caller's.
	noMail := e.mint(map[string]any{"sub": "u-300", "scope": "openid"})
	a := e.rawRequests(strings.Join([]string{"GET /orders HTTP/1.1", host, "Authorization: Bearer " + noMail, "X-Auth-Email: mallory@evil.example", "Connection: X-Auth-Email"}, "\r\n"))[0]
	got := e.upstreamSaw(&http.Response{StatusCode: a.status}, a.body)
	if got.header("X-Auth-Subject") != "u-300" || got.header("X-Auth-Email") != "" {
		t.Errorf("token without email: the upstream got X-Auth-Subject %q, X-Auth-Email %q, want u-300 and empty", got.header("X-Auth-Subject"), got.header("X-Auth-Email"))
	}
	t.Logf("token without email: X-Auth-Email values %q", got.Headers["X-Auth-Email"])

	// Connection: close still closes the connection after the answer.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, strings.Join([]string{"GET /orders HTTP/1.1", host, auth, "Connection: close, X-Auth-Subject"}, "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := e.upstreamSaw(resp, body); got.header("X-Auth-Subject") != "u-100" {
		t.Errorf("Connection: close, X-Auth-Subject: the upstream got X-Auth-Subject %q", got.header("X-Auth-Subject"))
	}
	if _, err := br.ReadByte(); !resp.Close || err != io.EOF {
		t.Errorf("Connection: close was not honoured (response Close %v, next read %v)", resp.Close, err)
	}
}
