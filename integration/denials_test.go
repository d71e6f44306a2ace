package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// denialCase is one refusal of bearerSite and the answer edgeauth gives by
// default, byte for byte.
type denialCase struct {
	name, path, bearer string
	headers            []string
	status             int
	wwwAuth            string // "" for none; %s is the realm (Host)
	body               string
}

// defaultDenials are bearerSite's refusals as edgeauth answers them when no
// handle_errors route takes them (the bodies before handle_errors support,
// kept byte-identical).
func defaultDenials(e *env, alice, bob string) []denialCase {
	return []denialCase{
		{name: "no credential", path: "/", status: http.StatusUnauthorized, wwwAuth: `Bearer realm="%s"`,
			body: `{"error":"unauthorized","error_description":"authentication required"}` + "\n"},
		{name: "bad token", path: "/", bearer: "not-a-token", status: http.StatusUnauthorized,
			wwwAuth: `Bearer realm="%s", error="invalid_token", error_description="malformed token: want three dot-separated parts"`,
			body:    `{"error":"invalid_token","error_description":"malformed token: want three dot-separated parts"}` + "\n"},
		{name: "missing scope", path: "/dns/records", bearer: bob, status: http.StatusForbidden,
			wwwAuth: `Bearer realm="%s", error="insufficient_scope", error_description="the token lacks a scope this route needs", scope="/acs/alidns"`,
			body:    `{"error":"insufficient_scope","error_description":"the token lacks a scope this route needs"}` + "\n"},
		{name: "claim rule", path: "/billing/invoices", bearer: alice, status: http.StatusForbidden,
			wwwAuth: `Bearer realm="%s", error="insufficient_scope"`,
			body:    `{"error":"access_denied","error_description":"the caller's claims do not allow this route"}` + "\n"},
		{name: "encoded slash", path: "/a%2Fb", status: http.StatusBadRequest,
			body: `{"error":"invalid_request","error_description":"the request path has an encoded slash or backslash (%2F, %5C)"}` + "\n"},
		{name: "two Authorization headers", path: "/", headers: []string{"Authorization: Bearer a", "Authorization: Bearer b"}, status: http.StatusBadRequest,
			wwwAuth: `Bearer realm="%s", error="invalid_request", error_description="more than one Authorization header"`,
			body:    `{"error":"invalid_request","error_description":"more than one Authorization header"}` + "\n"},
	}
}

// checkDenials sends every case and compares status, headers and body.
func (e *env) checkDenials(t *testing.T, cases []denialCase) {
	t.Helper()
	realm := fmt.Sprintf("127.0.0.1:%d", e.port)
	for _, c := range cases {
		resp, body := e.get(c.path, c.bearer, c.headers...)
		if resp.StatusCode != c.status || string(body) != c.body {
			t.Errorf("%s: %d %q\nwant %d %q", c.name, resp.StatusCode, body, c.status, c.body)
		}
		want := ""
		if c.wwwAuth != "" {
			want = fmt.Sprintf(c.wwwAuth, realm)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, got, want)
		}
		if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
			t.Errorf("%s: Content-Type %q Cache-Control %q, want application/json and no-store", c.name, ct, cc)
		}
	}
}

// TestDenialDefaultBodiesByteIdentical: without a handle_errors route that
// takes the error — none at all, one for other statuses on the same site, or
// one on another site of the same server — every refusal is answered with
// edgeauth's own JSON body, byte for byte as before.
func TestDenialDefaultBodiesByteIdentical(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	cases := defaultDenials(e, alice, bob)
	t.Run("no handle_errors", func(t *testing.T) { e.checkDenials(t, cases) })

	// handle_errors for other statuses on the same site.
	e.start(strings.Replace(bearerSite(e), "\treverse_proxy", "\thandle_errors 404 500 {\n\t\trespond \"not found\"\n\t}\n\treverse_proxy", 1))
	t.Run("handle_errors for other statuses", func(t *testing.T) { e.checkDenials(t, cases) })

	// handle_errors on another site of the same server.
	e.start(bearerSite(e) + fmt.Sprintf("http://other.test:%d {\n\thandle_errors {\n\t\trespond \"other site\"\n\t}\n\trespond \"hi\"\n}\n", e.port))
	t.Run("handle_errors on another site", func(t *testing.T) { e.checkDenials(t, cases) })
}

// brandedSite is bearerSite with a handle_errors block in the site.
func brandedSite(e *env, handleErrors string) string {
	return strings.Replace(bearerSite(e), "\treverse_proxy", handleErrors+"\n\treverse_proxy", 1)
}

// TestHandleErrorsRendersDenials: a handle_errors route for 401 and 403
// renders edgeauth's refusals with the operator's body, keeping the status
// and the challenge; a status it does not name keeps edgeauth's JSON body.
func TestHandleErrorsRendersDenials(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	e.start(brandedSite(e, "\thandle_errors 401 403 {\n\t\trespond \"branded {http.error.status_code} {http.auth.error}\"\n\t}"))
	realm := fmt.Sprintf("127.0.0.1:%d", e.port)
	var plain []denialCase
	for _, c := range defaultDenials(e, alice, bob) {
		if c.status != http.StatusUnauthorized && c.status != http.StatusForbidden {
			plain = append(plain, c)
			continue
		}
		resp, body := e.get(c.path, c.bearer, c.headers...)
		var code struct{ Error string }
		_ = json.Unmarshal([]byte(c.body), &code)
		want := fmt.Sprintf("branded %d %s", c.status, code.Error)
		if resp.StatusCode != c.status || string(body) != want {
			t.Errorf("%s: %d %q, want %d %q", c.name, resp.StatusCode, body, c.status, want)
		}
		if got, want := resp.Header.Get("WWW-Authenticate"), fmt.Sprintf(c.wwwAuth, realm); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", c.name, got, want)
		}
		if ct, cc := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"); !strings.HasPrefix(ct, "text/plain") || cc != "no-store" {
			t.Errorf("%s: Content-Type %q Cache-Control %q, want the operator's text/plain, never cached", c.name, ct, cc)
		}
	}
	if len(plain) == 0 {
		t.Fatal("no 400 case to check")
	}
	e.checkDenials(t, plain)
	e.upstreamSaw(e.get("/", alice))
}

// TestHandleErrorsJSONShape: the operator's own JSON error shape from the
// placeholders, for every refusal, with Caddy's error ID.
func TestHandleErrorsJSONShape(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	e.start(brandedSite(e, jsonShapeBlock))
	reasons := map[string]string{
		"no credential": "no_credential", "bad token": "invalid_token", "missing scope": "insufficient_scope",
		"claim rule": "claim_mismatch", "encoded slash": "invalid_path", "two Authorization headers": "invalid_token",
	}
	for _, c := range defaultDenials(e, alice, bob) {
		resp, body := e.get(c.path, c.bearer, c.headers...)
		var def errorShape
		_ = json.Unmarshal([]byte(c.body), &def)
		var got struct {
			Status  int    `json:"status"`
			Code    string `json:"code"`
			Message string `json:"message"`
			Reason  string `json:"reason"`
			Scope   string `json:"scope"`
			TraceID string `json:"trace_id"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("%s: body is not JSON: %v: %s", c.name, err, body)
			continue
		}
		if resp.StatusCode != c.status || got.Status != c.status || got.Code != def.Error || got.Message != def.Description || got.Reason != reasons[c.name] || got.TraceID == "" {
			t.Errorf("%s: %d %s, want status %d code %q message %q reason %q and an id", c.name, resp.StatusCode, body, c.status, def.Error, def.Description, reasons[c.name])
		}
		if c.name == "missing scope" && got.Scope != "/acs/alidns" {
			t.Errorf("missing scope: scope %q, want /acs/alidns", got.Scope)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", c.name, ct)
		}
	}
}

// jsonShapeBlock is the README's JSON error shape, word for word.
const jsonShapeBlock = "\thandle_errors 4xx 503 {\n\t\trespond `{\"status\":{http.error.status_code},\"code\":\"{http.auth.error}\",\"message\":\"{http.auth.error_description}\",\"reason\":\"{http.auth.reason}\",\"scope\":\"{http.auth.required_scopes}\",\"trace_id\":\"{http.error.id}\"}`\n\t}"

// errorShape is edgeauth's default JSON body.
type errorShape struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// withHandleErrors puts a handle_errors block into a Caddyfile's first site,
// before its reverse_proxy line.
func withHandleErrors(caddyfile, block string) string {
	return strings.Replace(caddyfile, "\treverse_proxy", block+"\n\treverse_proxy", 1)
}

// TestBrowserForbiddenPage: a signed-in browser refused by a claim rule gets
// edgeauth's 403 page by default, byte for byte as before, and the
// operator's page (file_server and templates, as in the README) when a
// handle_errors route takes 403s.
func TestBrowserForbiddenPage(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	cfg := e.loginConfig(loginOpts{rules: "\t\tclaim /billing/* type account\n"})
	e.start(cfg)
	e.waitReady()
	alice := e.newCookieClient("alice")
	alice.login("/")

	const defaultPage = `<!doctype html><html><head><meta charset="utf-8"><title>Access denied</title></head><body><h1>Access denied</h1><p>Your sign-in does not grant this page.</p><p><a href="/">Home</a></p></body></html>`
	hops := alice.navigate(e.url("/billing/invoices"))
	end := last(hops)
	if len(hops) != 1 || end.Status != http.StatusForbidden || string(end.Body) != defaultPage ||
		end.Header.Get("Content-Type") != "text/html; charset=utf-8" || end.Header.Get("Content-Security-Policy") != "default-src 'none'" {
		t.Errorf("default: %s %q %q, want edgeauth's page", describeHops(hops), end.Header, end.Body)
	}

	dir := t.TempDir()
	page := `<!doctype html><title>Acme</title><h1>Acme: no entry</h1><p>{{placeholder "http.auth.error_description"}}</p><p>{{placeholder "http.auth.reason"}} {{placeholder "http.error.status_code"}}</p>`
	if err := os.WriteFile(filepath.Join(dir, "403.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(withHandleErrors(cfg, fmt.Sprintf("\thandle_errors 403 {\n\t\troot * %s\n\t\trewrite * /403.html\n\t\ttemplates\n\t\tfile_server\n\t}", dir)))
	hops = alice.navigate(e.url("/billing/invoices"))
	end = last(hops)
	want := `<!doctype html><title>Acme</title><h1>Acme: no entry</h1><p>the caller's claims do not allow this route</p><p>claim_mismatch 403</p>`
	if len(hops) != 1 || end.Status != http.StatusForbidden || string(end.Body) != want || !strings.HasPrefix(end.Header.Get("Content-Type"), "text/html") {
		t.Errorf("branded: %s %q %q\nwant 403 %q", describeHops(hops), end.Header, end.Body, want)
	}
	if end.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the branded refusal may be cached: Cache-Control %q", end.Header.Get("Cache-Control"))
	}
	// The session still opens what the rules allow.
	e.upstreamSaw(alice.api("/"))
}

// TestHandleErrorsSTSAndUnavailable: STS refusals expose the STS code and
// request ID; a 503 keeps its Retry-After under the operator's body.
func TestHandleErrorsSTSAndUnavailable(t *testing.T) {
	w := newSTSWorld(t, demoidp.Options{})
	w.startSTS("\t\tsts alibaba")
	// A role whose trust policy does not name this subject → 403.
	cfg := w.globals(w.providerBlock("demo")+"\n"+strings.Replace(w.stsBlock(), w.readerARN, w.adminARN, 1)) + w.site("edgeauth demo", "\t\tsts alibaba")
	resp, body := w.get("/", w.aliceToken())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the reader role: %d %s", resp.StatusCode, body)
	}
	w.start(withHandleErrors(cfg, "\thandle_errors {\n\t\trespond \"{http.auth.error}|{http.auth.sts.code}|{http.auth.sts.request_id}|{http.auth.reason}\"\n\t}"))
	resp, body = w.get("/", w.aliceToken())
	parts := strings.Split(string(body), "|")
	if resp.StatusCode != http.StatusForbidden || len(parts) != 4 || parts[0] != "access_denied" || parts[1] != "AuthenticationFail.NoPermission" || parts[2] == "" || parts[3] != "sts_forbidden" {
		t.Errorf("STS refusal: %d %q, want 403 access_denied|AuthenticationFail.NoPermission|<request id>|sts_forbidden", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("STS refusal: WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}

	// Keys not loaded: 503 with Retry-After, the operator's body.
	e := newEnv(t, demoidp.Options{})
	e.idp.SetDown(true)
	e.start(brandedSite(e, "\thandle_errors 503 {\n\t\trespond \"busy: {http.auth.error}, {http.auth.reason}\"\n\t}"))
	resp, body = e.get("/", e.aliceToken())
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || string(body) != "busy: temporarily_unavailable, keys_unavailable" {
		t.Errorf("keys not loaded: %d Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// TestHandleErrorsPlaceholdersEchoNothing: whatever a caller sends — a
// token, a claim value with control bytes and markup, a hostile header
// value — the refusal placeholders carry only the gateway's own codes and
// prose.
func TestHandleErrorsPlaceholdersEchoNothing(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})
	e.start(brandedSite(e, "\thandle_errors {\n\t\trespond \"{http.auth.error}|{http.auth.error_description}|{http.error.message}|{http.auth.reason}|{http.auth.required_scopes}|{http.auth.sts.code}|{http.auth.sts.request_id}\"\n\t}"))
	hostileClaim := e.aliceToken(demoidp.WithClaims(map[string]any{"type": "account\r\nX-Evil: 1<script>\"", "name": "<img src=x>"}))
	hdr, _ := json.Marshal(map[string]any{"alg": "<script>\"\r\n", "typ": "JWT", "kid": "<b>"})
	payload, _ := json.Marshal(map[string]any{"iss": e.idp.Issuer(), "sub": "x<y>"})
	hostileAlg := b64(hdr) + "." + b64(payload) + ".c2ln"
	cases := []struct{ path, tok string }{
		{"/billing/x", hostileClaim},
		{"/", hostileAlg},
		{"/", strings.Repeat("A", 30000)},
		{"/", e.aliceToken(demoidp.WithClaims(map[string]any{"iss": "https://evil.example/<x>\"", "exp": nil}))},
	}
	for _, c := range cases {
		resp, body := e.get(c.path, c.tok)
		if resp.StatusCode < 400 {
			t.Fatalf("%s: %d, want a refusal", c.path, resp.StatusCode)
		}
		for _, bad := range []string{c.tok[:20], "<", ">", "\"", "\r", "\n", "Evil", "evil.example", "img"} {
			if strings.Contains(string(body), bad) {
				t.Errorf("%s: the placeholders carry %q: %q", c.path, bad, body)
			}
		}
		t.Logf("%s: %q", c.path, body)
		if f := strings.Split(string(body), "|"); len(f) != 7 || f[0] == "" || f[1] == "" || f[1] != f[2] || f[3] == "" {
			t.Errorf("%s: placeholders %q, want code|description|same description|reason|…", c.path, body)
		}
	}
}
