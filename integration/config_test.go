package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestConfigErrorsAtLoad: bad settings are refused when the config is loaded
// (what `caddy validate` does), with a message that names the setting.
func TestConfigErrorsAtLoad(t *testing.T) {
	site := `
http://127.0.0.1:9 {
	edgeauth %s
	respond "unreachable"
}`
	global := func(provider string) string {
		return "{\n\tadmin off\n\tedgeauth {\n\t\tprovider corp {\n" + provider + "\n\t\t}\n\t}\n}\n"
	}
	auds := make([]string, 51)
	for i := range auds {
		auds[i] = fmt.Sprintf("app-%d", i)
	}
	cases := []struct{ name, caddyfile, want string }{
		{"http issuer", global("issuer http://idp.example.com\nclient_id a") + fmt.Sprintf(site, ""), "must use https"},
		{"issuer with query", global("issuer https://idp.example.com/?tenant=1\nclient_id a") + fmt.Sprintf(site, ""), "query"},
		{"issuer with user info", global("issuer https://user:pw@idp.example.com\nclient_id a") + fmt.Sprintf(site, ""), "issuer"},
		{"issuer missing", global("client_id a") + fmt.Sprintf(site, ""), "issuer: required"},
		{"no audience", global("issuer https://idp.example.com") + fmt.Sprintf(site, ""), "set `client_id <id>` or `audiences"},
		{"too many audiences", global("issuer https://idp.example.com\naudiences "+strings.Join(auds, " ")) + fmt.Sprintf(site, ""), "at most 50"},
		{"HS256", global("issuer https://idp.example.com\nclient_id a\nalgorithms HS256") + fmt.Sprintf(site, ""), "algorithms"},
		{"none", global("issuer https://idp.example.com\nclient_id a\nalgorithms none") + fmt.Sprintf(site, ""), "algorithms"},
		{"max_token_age too short", global("issuer https://idp.example.com\nclient_id a\nmax_token_age 30m") + fmt.Sprintf(site, ""), "max_token_age"},
		{"max_token_age too long", global("issuer https://idp.example.com\nclient_id a\nmax_token_age 169h") + fmt.Sprintf(site, ""), "max_token_age"},
		{"too many thumbprints", global("issuer https://idp.example.com\nclient_id a\nthumbprints "+strings.Repeat("902ef2deeb3c5b13ea4c3d5193629309e231ae55 ", 6)) + fmt.Sprintf(site, ""), "thumbprints"},
		{"bad thumbprint", global("issuer https://idp.example.com\nclient_id a\nthumbprints xyz") + fmt.Sprintf(site, ""), "thumbprint \"xyz\": must be 40 hex digits"},
		{"thumbprints on http issuer", global("issuer http://127.0.0.1:9999\nclient_id a\nthumbprints 902ef2deeb3c5b13ea4c3d5193629309e231ae55") + fmt.Sprintf(site, ""), "thumbprints"},
		{"missing tls_ca file", global("issuer https://idp.example.com\nclient_id a\ntls_ca /nonexistent/ca.pem") + fmt.Sprintf(site, ""), "/nonexistent/ca.pem"},
		{"clock skew too large", global("issuer https://idp.example.com\nclient_id a\nclock_skew 1h") + fmt.Sprintf(site, ""), "clock_skew"},
		{"unknown provider in directive", global("issuer https://idp.example.com\nclient_id a") + fmt.Sprintf(site, "other"), `provider "other" is not defined`},
		{"directive without any provider", fmt.Sprintf(site, ""), "no provider is configured"},
		{"bad path pattern", global("issuer https://idp.example.com\nclient_id a") + fmt.Sprintf(site, "{\n\t\tpublic healthz\n\t}"), "healthz"},
		{"bad header name", global("issuer https://idp.example.com\nclient_id a") + fmt.Sprintf(site, "{\n\t\theader X(User) {http.auth.user.upn}\n\t}"), "X(User)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := loadError(t, c.caddyfile)
			if got == "" {
				t.Fatalf("the config loaded; want an error containing %q", c.want)
			}
			if !strings.Contains(got, c.want) {
				t.Fatalf("error %q does not contain %q", got, c.want)
			}
		})
	}
	// A loopback http issuer is fine (development), and so is the demo setup.
	if got := loadError(t, global("issuer http://127.0.0.1:9999\nclient_id a")+fmt.Sprintf(site, "")); got != "" {
		t.Fatalf("loopback http issuer refused: %s", got)
	}
}

// TestJSONConfigThroughAdminAPI pushes the adapted JSON through Caddy's admin
// API, as operators who do not use Caddyfiles do.
func TestJSONConfigThroughAdminAPI(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	// Start with a config that only runs the admin API.
	loadCaddy(t, []byte(fmt.Sprintf(`{"admin":{"listen":"127.0.0.1:%d"}}`, e.admin)))
	cfgJSON := adapt(t, bearerSite(e))
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/load", e.admin), "application/json", bytes.NewReader(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /load: %d %s", resp.StatusCode, msg)
	}
	alice := e.aliceToken()
	waitFor(t, "a valid token to pass", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode == http.StatusOK
	})
	resp2, body := e.get("/", "")
	assertError(t, resp2, body, http.StatusUnauthorized, "unauthorized")

	// A bad JSON config is refused by the admin API with the reason.
	bad := bytes.Replace(cfgJSON, []byte(`"issuer":"`+e.idp.Issuer()+`"`), []byte(`"issuer":"http://idp.example.com"`), 1)
	if bytes.Equal(bad, cfgJSON) {
		t.Fatal("the adapted JSON does not hold the issuer as expected")
	}
	resp, err = http.Post(fmt.Sprintf("http://127.0.0.1:%d/load", e.admin), "application/json", bytes.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(msg), "https") {
		t.Fatalf("a non-loopback http issuer was accepted through the admin API: %d %s", resp.StatusCode, msg)
	}
	// The running config is untouched.
	e.upstreamSaw(e.get("/", alice))
}

// TestAuthenticationProvider uses edgeauth inside Caddy's own
// `authentication` handler, with handle_errors shaping the refusal.
func TestAuthenticationProvider(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	cfg := fmt.Sprintf(`{
	"admin": {"listen": "127.0.0.1:%d"},
	"apps": {
		"edgeauth": {"providers": {"demo": {"issuer": %q, "client_id": %q, "tls_ca": %q}}},
		"http": {"servers": {"s": {
			"listen": ["127.0.0.1:%d"],
			"automatic_https": {"disable": true},
			"routes": [{"handle": [
				{"handler": "authentication", "providers": {"edgeauth": {"providers": ["demo"]}}},
				{"handler": "headers", "request": {"set": {"X-User-Id": ["{http.auth.user.id}"], "X-User-Upn": ["{http.auth.user.upn}"], "X-User-Scopes": ["{http.auth.user.scopes}"]}}},
				{"handler": "reverse_proxy", "upstreams": [{"dial": %q}]}
			]}],
			"errors": {"routes": [{"handle": [
				{"handler": "static_response", "status_code": "{http.error.status_code}", "body": "denied by edgeauth"}
			]}]}
		}}}
	}
}`, e.admin, e.idp.Issuer(), demoidp.DefaultClientID, e.caFile, e.port, e.upstream)
	loadCaddy(t, []byte(cfg))
	alice := e.aliceToken()
	waitFor(t, "a valid token to pass", 10*time.Second, func() bool {
		resp, _ := e.get("/", alice)
		return resp.StatusCode == http.StatusOK
	})
	got := e.upstreamSaw(e.get("/", alice))
	if got.header("X-User-Id") != "2000000000000002" || got.header("X-User-Upn") != "alice@example.onaliyun.com" {
		t.Errorf("placeholders from the authentication provider: id %q upn %q", got.header("X-User-Id"), got.header("X-User-Upn"))
	}
	resp, body := e.get("/", "")
	if resp.StatusCode != http.StatusUnauthorized || string(body) != "denied by edgeauth" {
		t.Errorf("no token: %d %q, want 401 from handle_errors", resp.StatusCode, body)
	}
	resp, _ = e.get("/", tamper(alice))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("bad token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// The identity headers the operator sets from the placeholders before
	// reverse_proxy cannot be dropped by naming them in Connection.
	got = e.upstreamSaw(e.get("/", alice, "Connection: keep-alive, X-User-Id, x_user_upn", "Proxy-Connection: X-User-Upn"))
	if got.header("X-User-Id") != "2000000000000002" || got.header("X-User-Upn") != "alice@example.onaliyun.com" {
		t.Errorf("Connection dropped the operator's identity headers: id %q upn %q", got.header("X-User-Id"), got.header("X-User-Upn"))
	}
	// A claim named like a reserved placeholder (id, scopes, provider)
	// never overrides the subject or the granted scopes (red team F9).
	forged := e.mint(map[string]any{"sub": "2000000000000003", "id": "2000000000000002", "scopes": "/acs/alidns admin", "Provider": "x"})
	got = e.upstreamSaw(e.get("/", forged))
	if got.header("X-User-Id") != "2000000000000003" || got.header("X-User-Scopes") != "" {
		t.Errorf("claims id/scopes forged the placeholders: id %q scopes %q", got.header("X-User-Id"), got.header("X-User-Scopes"))
	}
	// Two Authorization fields: refused, whatever the tokens.
	resp, _ = e.get("/", alice, "Authorization: Bearer "+alice)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Errorf("two Authorization fields: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestReloadKeepsKeys reloads a changed config: the provider's keys are
// reused (no new fetch) and requests keep passing.
func TestReloadKeepsKeys(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	before := e.idp.Counts()
	for i := 0; i < 3; i++ {
		cfg := strings.Replace(bearerSite(e), "public /healthz", fmt.Sprintf("public /healthz /reload-%d", i), 1)
		loadCaddy(t, adapt(t, cfg))
		e.upstreamSaw(e.get("/", alice))
		e.upstreamSaw(e.get(fmt.Sprintf("/reload-%d", i), ""))
	}
	after := e.idp.Counts()
	if after.JWKS != before.JWKS || after.Discovery != before.Discovery {
		t.Errorf("reloads refetched: discovery %d→%d, JWKS %d→%d", before.Discovery, after.Discovery, before.JWKS, after.JWKS)
	}
}

// TestSeveralProvidersPickedByIssuer runs two providers; a route that lists
// both accepts each one's tokens, a route that lists one refuses the other's.
func TestSeveralProvidersPickedByIssuer(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	other, err := demoidp.New(demoidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	otherCA, err := other.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	global := e.globals(e.providerBlock("one") + fmt.Sprintf(`
		provider two {
			issuer %s
			audiences %s
			tls_ca %s
		}`, other.Issuer(), demoidp.DefaultClientID, otherCA))
	cfg := global + fmt.Sprintf(`http://127.0.0.1:%d {
	route /both/* {
		edgeauth one two
		reverse_proxy %s
	}
	route /one/* {
		edgeauth one
		reverse_proxy %s
	}
}
`, e.port, e.upstream, e.upstream)
	e.start(cfg)
	tokOne := e.aliceToken()
	tokTwo, err := other.MintFor("bob", []string{"openid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both providers' keys", 10*time.Second, func() bool {
		r1, _ := e.get("/both/x", tokOne)
		r2, _ := e.get("/both/x", tokTwo)
		return r1.StatusCode == http.StatusOK && r2.StatusCode == http.StatusOK
	})
	if got := e.upstreamSaw(e.get("/both/x", tokTwo)); got.header("X-Auth-Issuer") != other.Issuer() {
		t.Errorf("X-Auth-Issuer = %q, want the second provider", got.header("X-Auth-Issuer"))
	}
	e.upstreamSaw(e.get("/one/x", tokOne))
	resp, body := e.get("/one/x", tokTwo)
	assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
}
