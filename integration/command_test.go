package integration

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// commandWorld is a demo provider and a Caddyfile that protects a site
// with it, for running `caddy edgeauth …` from the binary built from
// ./cmd/caddy. No Caddy server is started: the commands load the config
// themselves.
type commandWorld struct {
	bin    string
	env    *env
	config string // path of the Caddyfile
	text   string // the Caddyfile
	home   string
}

func newCommandWorld(t *testing.T, bin string) *commandWorld {
	t.Helper()
	w := &commandWorld{bin: bin, env: newEnv(t, demoidp.Options{}), home: t.TempDir()}
	site := w.env.site("edgeauth demo", `		public /healthz
		scope /admin/* /acs/ecs
		claim /billing/* type account
		header X-Upstream-Key {env.EDGEAUTH_TEST_UPSTREAM_KEY}`)
	w.text = w.env.globals(w.env.providerBlock("demo")) + site
	w.config = writeFile(t, "Caddyfile", w.text)
	return w
}

// upstreamKey is a secret the test Caddyfile sends upstream in a header
// (from the environment); explain must not print it.
const upstreamKey = "upstream-secret-value-4711"

// run runs `caddy edgeauth <args>` with stdin and returns stdout, stderr
// and the exit status.
func (w *commandWorld) run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(w.bin, append([]string{"edgeauth"}, args...)...)
	cmd.Dir = w.home
	cmd.Env = append(os.Environ(),
		"HOME="+w.home,
		"XDG_CONFIG_HOME="+filepath.Join(w.home, "config"),
		"XDG_DATA_HOME="+filepath.Join(w.home, "data"),
		"EDGEAUTH_TEST_UPSTREAM_KEY="+upstreamKey)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	status := 0
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("running caddy edgeauth %v: %v", args, err)
		}
		status = exit.ExitCode()
	}
	return stdout.String(), stderr.String(), status
}

// explain runs `caddy edgeauth explain` for a path with the token on stdin.
func (w *commandWorld) explain(t *testing.T, tok, path string) (string, int) {
	t.Helper()
	host := fmt.Sprintf("127.0.0.1:%d", w.env.port)
	out, errOut, status := w.run(t, tok+"\n", "explain", "--config", w.config, "--host", host, "--path", path, "--token", "-")
	if strings.Contains(out, tok) || strings.Contains(errOut, tok) {
		t.Fatalf("explain printed the token")
	}
	if status == 1 {
		t.Fatalf("explain failed (status 1):\n%s\n%s", out, errOut)
	}
	return out, status
}

// checkLine asserts that out has a check line "<mark> <name> …detail…".
func checkLine(t *testing.T, out, mark, name, detail string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(mark) + `\s+` + regexp.QuoteMeta(name) + `\s+.*` + regexp.QuoteMeta(detail))
	if !re.MatchString(out) {
		t.Errorf("want a %q line for %s with %q in:\n%s", mark, name, detail, out)
	}
}

// TestCommandEdgeauth runs `caddy edgeauth secret|explain|keys` from the
// binary built from ./cmd/caddy (built once for all three).
func TestCommandEdgeauth(t *testing.T) {
	bin := buildCaddy(t)
	t.Run("secret", func(t *testing.T) { testCommandSecret(t, bin) })
	t.Run("explain", func(t *testing.T) { testCommandExplain(t, bin) })
	t.Run("keys", func(t *testing.T) { testCommandKeys(t, bin) })
}

// testCommandSecret: `caddy edgeauth secret` prints a fresh base64url
// secret of 48 random bytes, different on every run, that the session
// block accepts.
func testCommandSecret(t *testing.T, bin string) {
	w := &commandWorld{bin: bin, home: t.TempDir()}
	seen := map[string]bool{}
	for range 2 {
		out, errOut, status := w.run(t, "", "secret")
		if status != 0 {
			t.Fatalf("status %d: %s", status, errOut)
		}
		s := strings.TrimSpace(out)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 48 {
			t.Fatalf("secret %q is not 48 bytes of base64url: %v", s, err)
		}
		if seen[s] {
			t.Fatal("two runs printed the same secret")
		}
		seen[s] = true
	}
	// The session block takes it.
	var secret string
	for s := range seen {
		secret = s
	}
	cfg := fmt.Sprintf(`{
	edgeauth {
		provider demo {
			issuer https://127.0.0.1:1
			client_id x
		}
		session {
			secret %s
		}
	}
}
`, secret)
	if msg := loadError(t, cfg); msg != "" {
		t.Fatalf("a config with the generated secret does not load: %s", msg)
	}
}

// testCommandExplain runs `caddy edgeauth explain` against the demo
// provider: a valid token is accepted with its headers, refused tokens
// name the failing check, a path whose scope rule the token lacks is
// refused with that rule, and the exit status follows the verdict.
func testCommandExplain(t *testing.T, bin string) {
	w := newCommandWorld(t, bin)
	idp := w.env.idp

	t.Run("accepted", func(t *testing.T) {
		tok, err := idp.MintFor("root", []string{"openid", "profile", "aliuid", "/acs/ecs"})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/admin/users")
		t.Log(out)
		if status != 0 {
			t.Fatalf("status %d, want 0:\n%s", status, out)
		}
		checkLine(t, out, "ok", "provider", "is provider demo")
		checkLine(t, out, "ok", "signature", "verified")
		checkLine(t, out, "ok", "aud", demoidp.DefaultClientID)
		if !strings.Contains(out, "ok    scope /acs/ecs") {
			t.Errorf("want the scope rule passing:\n%s", out)
		}
		if !strings.Contains(out, "X-Auth-Subject: "+demoidp.DemoAccountID) {
			t.Errorf("want the X-Auth-Subject header:\n%s", out)
		}
		if !strings.Contains(out, "X-Upstream-Key: (set from the environment or a file; not shown)") || strings.Contains(out, upstreamKey) {
			t.Errorf("want the configured header from the environment masked:\n%s", out)
		}
		if !strings.Contains(out, "verdict: accepted") {
			t.Errorf("want an accepted verdict:\n%s", out)
		}
	})

	t.Run("expired", func(t *testing.T) {
		tok, err := idp.Mint(map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "FAIL", "exp", "token expired")
		checkLine(t, out, "ok", "iat", "ago")
		checkLine(t, out, "ok", "signature", "verified")
		checkLine(t, out, "ok", "aud", "")
		if !strings.Contains(out, "verdict: refused: 401 invalid_token (token expired)") {
			t.Errorf("want a 401 verdict:\n%s", out)
		}
	})

	t.Run("wrong audience", func(t *testing.T) {
		tok, err := idp.Mint(map[string]any{"aud": "another-app"})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "FAIL", "aud", "audience not accepted")
		checkLine(t, out, "ok", "exp", "not expired")
		// The token's own audience shows among its unverified claims.
		if !strings.Contains(out, "claims (NOT verified") || !strings.Contains(out, "  aud: another-app\n") {
			t.Errorf("want the token's unverified aud:\n%s", out)
		}
	})

	t.Run("logout token", func(t *testing.T) {
		tok, err := idp.MintLogoutToken("sid-1", demoidp.DemoAccountID)
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "FAIL", "typ", "token type logout+jwt not accepted")
		checkLine(t, out, "FAIL", "events", "security event token")
	})

	t.Run("duplicate member", func(t *testing.T) {
		tok, err := idp.Mint(map[string]any{"sub": "a", "SUB": "b"})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "FAIL", "format", "duplicate member name")
	})

	t.Run("missing scope", func(t *testing.T) {
		tok, err := idp.MintFor("bob", []string{"openid", "profile"})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/admin/users")
		t.Log(out)
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "ok", "signature", "verified")
		if !strings.Contains(out, "FAIL  scope /acs/ecs") {
			t.Errorf("want the failing scope rule:\n%s", out)
		}
		if !strings.Contains(out, "verdict: refused: 403 (insufficient_scope") {
			t.Errorf("want a 403 verdict:\n%s", out)
		}
		// The same token passes on a path without that rule.
		if out, status := w.explain(t, tok, "/other"); status != 0 {
			t.Errorf("status %d on /other, want 0:\n%s", status, out)
		}
	})

	t.Run("claim rule", func(t *testing.T) {
		tok, err := idp.MintFor("alice", []string{"openid", "profile", "aliuid"})
		if err != nil {
			t.Fatal(err)
		}
		out, status := w.explain(t, tok, "/billing/2026")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		if !strings.Contains(out, "FAIL  claim type [account]") {
			t.Errorf("want the failing claim rule:\n%s", out)
		}
	})

	t.Run("handle_path", func(t *testing.T) {
		// The handler sees the path with handle_path's prefix stripped, as
		// in Caddy: /api/admin/x meets the rule for /admin/*.
		cfg := writeFile(t, "Caddyfile", w.env.globals(w.env.providerBlock("demo"))+fmt.Sprintf(`http://app.example.com:%d {
	handle_path /api/* {
		edgeauth demo {
			scope /admin/* /acs/ecs
		}
		reverse_proxy %s
	}
	respond "not here" 404
}
`, w.env.port, w.env.upstream))
		tok, err := idp.MintFor("bob", []string{"openid"})
		if err != nil {
			t.Fatal(err)
		}
		host := fmt.Sprintf("app.example.com:%d", w.env.port)
		out, _, status := w.run(t, tok, "explain", "--config", cfg, "--host", host, "--path", "/api/admin/x")
		if status != 2 || !strings.Contains(out, "path as the handler sees it: /admin/x") || !strings.Contains(out, "FAIL  scope /acs/ecs") {
			t.Errorf("status %d, want 2 with the stripped path and the failing scope rule:\n%s", status, out)
		}
		// Another host reaches no edgeauth handler: status 1, saying so.
		_, errOut, status := w.run(t, tok, "explain", "--config", cfg, "--host", "other.example.com", "--path", "/api/admin/x")
		if status != 1 || !strings.Contains(errOut, "no edgeauth handler serves") {
			t.Errorf("other host: status %d, want 1 and the reason:\n%s", status, errOut)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		kid := idp.AddKey("RS256")
		tok, err := idp.Mint(nil, demoidp.WithKID(kid))
		if err != nil {
			t.Fatal(err)
		}
		if !idp.RemoveKey(kid) {
			t.Fatal("could not remove the key")
		}
		out, status := w.explain(t, tok, "/")
		if status != 2 {
			t.Fatalf("status %d, want 2:\n%s", status, out)
		}
		checkLine(t, out, "FAIL", "key", "unknown signing key")
		checkLine(t, out, "skip", "signature", "needs a signing key")
	})
}

// testCommandKeys: `caddy edgeauth keys` lists the demo provider's
// published keys with their thumbprints (the demo's kids are RFC 7638
// thumbprints, so each line shows its kid twice).
func testCommandKeys(t *testing.T, bin string) {
	w := newCommandWorld(t, bin)
	extra := w.env.idp.AddKey("ES256")
	out, errOut, status := w.run(t, "", "keys", "--config", w.config)
	if status != 0 {
		t.Fatalf("status %d:\n%s\n%s", status, out, errOut)
	}
	if !strings.Contains(out, "provider demo") || !strings.Contains(out, "issuer   "+w.env.idp.Issuer()) {
		t.Errorf("want the provider and its issuer:\n%s", out)
	}
	kids := w.env.idp.PublishedKIDs()
	if len(kids) < 2 {
		t.Fatalf("the demo publishes %d keys, want at least 2", len(kids))
	}
	for _, kid := range kids {
		re := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(kid) + `\s+\S+\s+\S+ \S+\s+` + regexp.QuoteMeta(kid) + `$`)
		if !re.MatchString(out) {
			t.Errorf("want a line with kid %s and the same thumbprint:\n%s", kid, out)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(extra) + `\s+ES256\s+EC P-256\s`).MatchString(out) {
		t.Errorf("want the ES256 key as EC P-256:\n%s", out)
	}
	if !strings.Contains(out, "fetched  ") {
		t.Errorf("want the fetch time:\n%s", out)
	}

	// --admin compares with a running gateway: it fetched the keys before
	// the provider added one, so it holds one key fewer than the provider
	// publishes now.
	w.env.start(w.text)
	refresh, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/edgeauth/providers/demo/refresh", w.env.admin), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	refresh.Body.Close()
	if refresh.StatusCode != http.StatusOK {
		t.Fatalf("refreshing the running gateway's keys: HTTP %d", refresh.StatusCode)
	}
	loaded := len(w.env.idp.PublishedKIDs())
	w.env.idp.AddKey("RS256")
	out, errOut, status = w.run(t, "", "keys", "--config", w.config, "--admin", fmt.Sprintf("127.0.0.1:%d", w.env.admin))
	if status != 0 {
		t.Fatalf("--admin: status %d:\n%s\n%s", status, out, errOut)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^\s+running\s+%d key\(s\), fetched \S+ \(age \S+\)$`, loaded)).MatchString(out) {
		t.Errorf("want the running gateway's %d keys with their fetch time and age:\n%s", loaded, out)
	}
	if n := len(regexp.MustCompile(`(?m)^\s+\S{43}\s+(RS256|ES256)\s`).FindAllString(out, -1)); n != loaded+1 {
		t.Errorf("want %d keys listed from the provider:\n%s", loaded+1, out)
	}

	// A provider that cannot be reached is an error (status 1) that says why.
	w.env.idp.SetDown(true)
	out, _, status = w.run(t, "", "keys", "--config", w.config)
	if status != 1 || !strings.Contains(out, "error") {
		t.Errorf("with the provider down: status %d, want 1 and the error:\n%s", status, out)
	}
}
