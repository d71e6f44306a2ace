package assertion

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// backend serves v's middleware in front of a handler that reports the
// identity from the request context.
func backend(t *testing.T, v *Verifier, header string) *httptest.Server {
	t.Helper()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := FromContext(r.Context())
		if !ok {
			t.Error("next called without an identity")
			return
		}
		io.WriteString(w, "hello "+id.Subject+" via "+id.Provider)
	})
	srv := httptest.NewServer(&Middleware{Verifier: v, Next: app, Header: header})
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, url string, header map[string][]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestMiddleware: a valid assertion reaches the handler with its identity;
// a missing one, a bad one and two of them get 401 with the challenge and a
// small JSON body that echoes nothing of the token.
func TestMiddleware(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	srv := backend(t, v, "")
	c := claimsAt(g.URL(), clk.now())
	c["name"] = marker
	good := sign(t, k, c)

	resp, body := call(t, srv.URL, map[string][]string{"X-Auth-Assertion": {good}})
	if resp.StatusCode != 200 || body != "hello 2000000000000002 via aliyun" {
		t.Fatalf("valid: %d %q", resp.StatusCode, body)
	}

	expired := claimsAt(g.URL(), clk.now().Add(-10*60e9))
	expired["name"] = marker
	cases := []struct {
		name      string
		header    map[string][]string
		errorCode string
		challenge string
	}{
		{"missing", nil, "assertion_required", `EdgeAuth-Assertion header="X-Auth-Assertion"`},
		{"empty", map[string][]string{"X-Auth-Assertion": {""}}, "assertion_required", `EdgeAuth-Assertion header="X-Auth-Assertion"`},
		{"in Authorization instead", map[string][]string{"Authorization": {"Bearer " + good}}, "assertion_required", `EdgeAuth-Assertion header="X-Auth-Assertion"`},
		{"expired", map[string][]string{"X-Auth-Assertion": {sign(t, k, expired)}}, "invalid_assertion",
			`EdgeAuth-Assertion header="X-Auth-Assertion", error="invalid_assertion", error_description="assertion expired"`},
		{"tampered", map[string][]string{"X-Auth-Assertion": {good[:len(good)-4] + "AAAA"}}, "invalid_assertion",
			`EdgeAuth-Assertion header="X-Auth-Assertion", error="invalid_assertion", error_description="bad signature"`},
		{"two headers", map[string][]string{"X-Auth-Assertion": {good, good}}, "invalid_assertion",
			`EdgeAuth-Assertion header="X-Auth-Assertion", error="invalid_assertion", error_description="malformed assertion: more than one assertion header"`},
		{"garbage with quotes", map[string][]string{"X-Auth-Assertion": {`a"b\c`}}, "invalid_assertion",
			`EdgeAuth-Assertion header="X-Auth-Assertion", error="invalid_assertion", error_description="malformed assertion: want three base64url parts separated by dots"`},
	}
	for _, tc := range cases {
		resp, body := call(t, srv.URL, tc.header)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d", tc.name, resp.StatusCode)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: challenge %q, want %q", tc.name, got, tc.challenge)
		}
		var doc map[string]string
		if err := json.Unmarshal([]byte(body), &doc); err != nil || doc["error"] != tc.errorCode || doc["error_description"] == "" {
			t.Errorf("%s: body %q", tc.name, body)
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", tc.name, resp.Header)
		}
		if strings.Contains(body, marker) || strings.Contains(body, "2000000000000002") || strings.Contains(body, good[:20]) {
			t.Errorf("%s: body echoes the token: %q", tc.name, body)
		}
	}
}

// TestMiddlewareCustomHeader reads the assertion from a renamed header and
// ignores the default one.
func TestMiddlewareCustomHeader(t *testing.T) {
	k := newTestKey(t, "k1", "EdDSA")
	g := newGateway(t, k)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	srv := backend(t, v, "X-Gateway-Identity")
	good := sign(t, k, claimsAt(g.URL(), clk.now()))
	if resp, _ := call(t, srv.URL, map[string][]string{"X-Gateway-Identity": {good}}); resp.StatusCode != 200 {
		t.Errorf("renamed header: %d", resp.StatusCode)
	}
	resp, _ := call(t, srv.URL, map[string][]string{"X-Auth-Assertion": {good}})
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `EdgeAuth-Assertion header="X-Gateway-Identity"` {
		t.Errorf("default header with a renamed one configured: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	// Require is the middleware with the default header.
	h := v.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Auth-Assertion", good)
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("Require: %d %s", rec.Code, rec.Body)
	}
}

// TestMiddlewareOutageIs503: when the gateway's keys cannot be loaded the
// backend answers 503 with Retry-After, not 401.
func TestMiddlewareOutageIs503(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k)
	g.setStatus(http.StatusServiceUnavailable)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	srv := backend(t, v, "")
	resp, body := call(t, srv.URL, map[string][]string{"X-Auth-Assertion": {sign(t, k, claimsAt(g.URL(), clk.now()))}})
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || resp.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("outage: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(body, `"temporarily_unavailable"`) || strings.Contains(body, g.URL()) {
		t.Errorf("outage body %q", body)
	}
}

// TestVerifyRequest is the middleware's check without its answers.
func TestVerifyRequest(t *testing.T) {
	k := newTestKey(t, "k1", "ES256")
	g := newGateway(t, k)
	clk := newClock()
	v := newTestVerifier(t, g, clk)
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := v.VerifyRequest(req, ""); err != ErrMissing {
		t.Errorf("no header: %v", err)
	}
	req.Header.Set("X-Auth-Assertion", sign(t, k, claimsAt(g.URL(), clk.now())))
	if id, err := v.VerifyRequest(req, ""); err != nil || id.Subject != "2000000000000002" {
		t.Errorf("valid: %v", err)
	}
	if _, ok := FromContext(req.Context()); ok {
		t.Error("an identity in a context nobody set")
	}
}
