package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
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

// jsonShapeBlock is the README's JSON error shape.
const jsonShapeBlock = "\thandle_errors {\n\t\trespond `{\"status\":{http.error.status_code},\"code\":\"{http.auth.error}\",\"message\":\"{http.auth.error_description}\",\"reason\":\"{http.auth.reason}\",\"scope\":\"{http.auth.required_scopes}\",\"trace_id\":\"{http.error.id}\"}`\n\t}"

// errorShape is edgeauth's default JSON body.
type errorShape struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}
