package demoidp

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-demo-verifier"

// autoCode runs the authorize request with AutoApprove and login_hint.
func autoCode(t *testing.T, s *Server, user string, extra url.Values) url.Values {
	t.Helper()
	q := url.Values{"login_hint": {user}}
	for k, v := range extra {
		q[k] = v
	}
	resp, err := noFollow(s).Get(authorizeURL(s, q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return redirectParams(t, resp)
}

func exchange(t *testing.T, s *Server, code, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	status, body, _ := postForm(t, s, PathToken, form, DefaultClientID, DefaultClientSecret)
	return status, body
}

func TestCodeFlowAutoApproveWithPKCE(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true})
	p := autoCode(t, s, "alice", url.Values{
		"scope":                 {"openid aliuid profile /acs/alidns /acs/ecs"},
		"code_challenge":        {pkcePair(testVerifier)},
		"code_challenge_method": {"S256"},
		"access_type":           {"offline"},
	})
	if p.Get("state") != "st-123" || p.Get("iss") != s.Issuer() || p.Get("code") == "" {
		t.Fatalf("callback params %v", p)
	}
	status, tok := exchange(t, s, p.Get("code"), testVerifier)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	if tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) || tok["refresh_token"] == nil {
		t.Fatalf("token response %v", tok)
	}
	// alice may not grant /acs/ecs: it is left out.
	if tok["scope"] != "openid aliuid profile /acs/alidns" {
		t.Fatalf("granted scope %q", tok["scope"])
	}
	idt, _ := tok["id_token"].(string)
	claims, _, err := verify(t, s, idt)
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	for k, v := range map[string]any{"aud": DefaultClientID, "nonce": "n-456", "sub": "2000000000000002",
		"upn": "alice@example.onaliyun.com", "aid": DemoAccountID, "type": "user"} {
		if claims[k] != v {
			t.Errorf("id_token %s = %v, want %v", k, claims[k], v)
		}
	}
	if claims["sid"] == nil || claims["at_hash"] == nil || claims["auth_time"] == nil {
		t.Errorf("id_token lacks sid/at_hash/auth_time: %v", claims)
	}
	at, _ := tok["access_token"].(string)
	atClaims, atTok, err := verify(t, s, at)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if atTok.Header["typ"] != "at+jwt" || atClaims["aud"] != DefaultClientID || atClaims["scope"] != tok["scope"] {
		t.Errorf("access token header %v claims %v", atTok.Header, atClaims)
	}

	// The code is single-use; reusing it also revokes what it gave out.
	if status, body := exchange(t, s, p.Get("code"), testVerifier); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %v", status, body)
	}
	if code := userinfoStatus(t, s, at); code != http.StatusUnauthorized {
		t.Fatalf("access token from a reused code: userinfo %d, want 401", code)
	}
}

func TestPKCEWrongVerifierRejected(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true})
	for _, method := range []string{"S256", "plain"} {
		challenge := testVerifier
		if method == "S256" {
			challenge = pkcePair(testVerifier)
		}
		extra := url.Values{"code_challenge": {challenge}, "code_challenge_method": {method}}
		p := autoCode(t, s, "bob", extra)
		if status, body := exchange(t, s, p.Get("code"), testVerifier+"x"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("%s wrong verifier: %d %v", method, status, body)
		}
		p = autoCode(t, s, "bob", extra)
		if status, body := exchange(t, s, p.Get("code"), ""); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("%s missing verifier: %d %v", method, status, body)
		}
		p = autoCode(t, s, "bob", extra)
		if status, body := exchange(t, s, p.Get("code"), testVerifier); status != http.StatusOK {
			t.Fatalf("%s right verifier: %d %v", method, status, body)
		}
	}
	// A verifier without a challenge in the request is refused too.
	p := autoCode(t, s, "bob", nil)
	if status, _ := exchange(t, s, p.Get("code"), testVerifier); status != http.StatusBadRequest {
		t.Fatalf("verifier without challenge: %d", status)
	}
	// No refresh token without access_type=offline.
	p = autoCode(t, s, "bob", nil)
	if _, tok := exchange(t, s, p.Get("code"), ""); tok["refresh_token"] != nil || tok["access_token"] == nil {
		t.Fatalf("online access: %v", tok)
	}
}

func TestTokenEndpointChecksClientAndRedirect(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true})
	p := autoCode(t, s, "alice", nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {p.Get("code")}, "redirect_uri": {testRedirect}}
	status, body, hdr := postForm(t, s, PathToken, form, DefaultClientID, "wrong")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("wrong secret: %d %v %v", status, body, hdr)
	}
	form.Set("redirect_uri", "http://127.0.0.1:9/other")
	form.Set("client_id", DefaultClientID)
	form.Set("client_secret", DefaultClientSecret)
	if status, body, _ := postForm(t, s, PathToken, form, "", ""); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("other redirect_uri: %d %v", status, body)
	}
	form.Set("grant_type", "password")
	if status, body, _ := postForm(t, s, PathToken, form, "", ""); body["error"] != "unsupported_grant_type" {
		t.Fatalf("password grant: %d %v", status, body)
	}
}

func TestCodeFlowThroughForms(t *testing.T) {
	s := startIDP(t, Options{})
	c := noFollow(s)
	resp, err := c.Get(authorizeURL(s, url.Values{
		"code_challenge": {pkcePair(testVerifier)}, "code_challenge_method": {"S256"},
		"scope": {"openid profile /acs/alidns"}, "login_hint": {"alice"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	page := readBody(t, resp)
	for _, id := range []string{`id="username"`, `id="password"`, `id="login"`, `value="alice"`, "alice-pass"} {
		if !strings.Contains(page, id) {
			t.Fatalf("login page lacks %s:\n%s", id, page)
		}
	}
	req := formReq(t, page)

	resp = postPage(t, s, PathLogin, url.Values{"req": {req}, "username": {"alice"}, "password": {"nope"}})
	if page := readBody(t, resp); !strings.Contains(page, `id="error"`) || !strings.Contains(page, `id="username"`) {
		t.Fatalf("wrong password should show the login page with an error:\n%s", page)
	}
	resp = postPage(t, s, PathLogin, url.Values{"req": {req}, "username": {"alice"}, "password": {"alice-pass"}})
	page = readBody(t, resp)
	for _, want := range []string{`id="allow"`, `id="deny"`, "/acs/alidns", "Alice Liddell"} {
		if !strings.Contains(page, want) {
			t.Fatalf("consent page lacks %s:\n%s", want, page)
		}
	}
	resp = postPage(t, s, PathConsent, url.Values{"req": {formReq(t, page)}, "action": {"allow"}})
	p := redirectParams(t, resp)
	if p.Get("state") != "st-123" || p.Get("iss") != s.Issuer() {
		t.Fatalf("callback %v", p)
	}
	// client_secret_post this time.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {p.Get("code")}, "redirect_uri": {testRedirect},
		"code_verifier": {testVerifier}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	status, tok, _ := postForm(t, s, PathToken, form, "", "")
	if status != http.StatusOK || tok["scope"] != "openid profile /acs/alidns" {
		t.Fatalf("token: %d %v", status, tok)
	}
	// The finished request cannot be approved again.
	resp = postPage(t, s, PathConsent, url.Values{"req": {req}, "action": {"allow"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("second consent: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestConsentDenied(t *testing.T) {
	s := startIDP(t, Options{})
	resp, err := noFollow(s).Get(authorizeURL(s, nil))
	if err != nil {
		t.Fatal(err)
	}
	req := formReq(t, readBody(t, resp))
	readBody(t, postPage(t, s, PathLogin, url.Values{"req": {req}, "username": {"bob"}, "password": {"bob-pass"}}))
	p := redirectParams(t, postPage(t, s, PathConsent, url.Values{"req": {req}, "action": {"deny"}}))
	if p.Get("error") != "access_denied" || p.Get("state") != "st-123" || p.Get("code") != "" || p.Get("iss") != s.Issuer() {
		t.Fatalf("deny: %v", p)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	s := startIDP(t, Options{Clients: []Client{
		{ID: "strict", Secret: "s3cret", RedirectURIs: []string{"https://app.example/cb"}},
	}})
	get := func(q url.Values) *http.Response {
		t.Helper()
		resp, err := noFollow(s).Get(s.URL() + PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	base := func() url.Values {
		return url.Values{"client_id": {"strict"}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"}}
	}
	for name, mod := range map[string]func(url.Values){
		"unknown client":        func(q url.Values) { q.Set("client_id", "nobody") },
		"unregistered redirect": func(q url.Values) { q.Set("redirect_uri", "https://app.example/cb2") },
		"prefix redirect":       func(q url.Values) { q.Set("redirect_uri", "https://app.example/cb/../evil") },
		"loopback not allowed":  func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:1/cb") },
		"duplicate parameter":   func(q url.Values) { q.Add("redirect_uri", "https://app.example/cb") },
	} {
		q := base()
		mod(q)
		if resp := get(q); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location %q, want 400 without redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for name, c := range map[string]struct {
		mod  func(url.Values)
		want string
	}{
		"token response type": {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		"unknown scope":       {func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope"},
		"bad access_type":     {func(q url.Values) { q.Set("access_type", "forever") }, "invalid_request"},
		"bad challenge":       {func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request"},
		"bad method":          {func(q url.Values) { q.Set("code_challenge", pkcePair("x")); q.Set("code_challenge_method", "S512") }, "invalid_request"},
		"prompt none":         {func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
	} {
		q := base()
		c.mod(q)
		resp := get(q)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), "https://app.example/cb?") ||
			loc.Query().Get("error") != c.want || loc.Query().Get("state") != "s" {
			t.Errorf("%s: %d %s, want redirect with error=%s", name, resp.StatusCode, loc, c.want)
		}
	}
}

func TestPublicClientNeedsPKCE(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, Clients: []Client{{ID: "native", AllowLoopbackRedirects: true}}})
	q := url.Values{"client_id": {"native"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}, "login_hint": {"bob"}}
	resp, _ := noFollow(s).Get(s.URL() + PathAuthorize + "?" + q.Encode())
	resp.Body.Close()
	if p := redirectParams(t, resp); p.Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %v", p)
	}
	q.Set("code_challenge", pkcePair(testVerifier))
	q.Set("code_challenge_method", "S256")
	resp, _ = noFollow(s).Get(s.URL() + PathAuthorize + "?" + q.Encode())
	resp.Body.Close()
	p := redirectParams(t, resp)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {p.Get("code")}, "redirect_uri": {testRedirect},
		"code_verifier": {testVerifier}, "client_id": {"native"}}
	if status, body, _ := postForm(t, s, PathToken, form, "", ""); status != http.StatusOK || body["id_token"] == nil {
		t.Fatalf("public client token: %d %v", status, body)
	}
}

func postPage(t *testing.T, s *Server, path string, form url.Values) *http.Response {
	t.Helper()
	resp, err := noFollow(s).PostForm(s.URL()+path, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func userinfoStatus(t *testing.T, s *Server, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
