package integration

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestIssuerTrailingSlashConfigured: a provider configured as "<issuer>/"
// whose discovery document states "<issuer>" (the demo provider's form)
// loads; bearer tokens and the login's ID token carrying the stated string
// pass, tokens carrying the configured string are refused, and the
// difference is logged once at info.
func TestIssuerTrailingSlashConfigured(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	logFile := writeFile(t, "caddy.log", "")
	e.logOpts = []string{"output file " + logFile, "level INFO", "format json"}
	stated := e.idp.Issuer()
	if strings.HasSuffix(stated, "/") {
		t.Fatalf("the demo provider states %q; the test needs an issuer without a trailing /", stated)
	}
	cfg := e.loginConfig(loginOpts{login: "param login_hint alice"})
	if !strings.Contains(cfg, "issuer "+stated+"\n") {
		t.Fatal("the provider block does not name the issuer as expected")
	}
	e.start(strings.Replace(cfg, "issuer "+stated+"\n", "issuer "+stated+"/\n", 1))
	e.waitReady()

	got := e.upstreamSaw(e.get("/", e.aliceToken()))
	if got.header("X-Auth-Subject") != "2000000000000002" || got.header("X-Auth-Issuer") != stated {
		t.Errorf("token with the stated issuer: subject %q, X-Auth-Issuer %q", got.header("X-Auth-Subject"), got.header("X-Auth-Issuer"))
	}
	resp, body := e.get("/", e.aliceToken(demoidp.WithClaims(map[string]any{"iss": stated + "/"})))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "issuer not trusted") {
		t.Errorf("token with the configured issuer: %d %q; %.200s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	b := e.newCookieClient("")
	b.login("/")
	if got := e.upstreamSaw(b.api("/")); got.header("X-Auth-Subject") != "2000000000000002" {
		t.Errorf("session after a login: subject %q", got.header("X-Auth-Subject"))
	}

	var lines []string
	waitFor(t, "the info line", 5*time.Second, func() bool {
		raw, _ := os.ReadFile(logFile)
		lines = nil
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.Contains(l, "without the configured trailing /") {
				lines = append(lines, l)
			}
		}
		return len(lines) > 0
	})
	if len(lines) != 1 || !strings.Contains(lines[0], `"level":"info"`) || !strings.Contains(lines[0], `"stated_issuer":"`+stated+`"`) {
		t.Errorf("log lines %q, want one at info naming the stated issuer", lines)
	}
}
