package demoidp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func offlineTokens(t *testing.T, s *Server, user string) map[string]any {
	t.Helper()
	p := autoCode(t, s, user, url.Values{"access_type": {"offline"}})
	status, tok := exchange(t, s, p.Get("code"), "")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	return tok
}

func refresh(t *testing.T, s *Server, rt string) (int, map[string]any) {
	t.Helper()
	status, body, _ := postForm(t, s, PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, DefaultClientID, DefaultClientSecret)
	return status, body
}

func TestRefreshWithRotation(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, RotateRefreshTokens: true})
	tok := offlineTokens(t, s, "alice")
	rt1, _ := tok["refresh_token"].(string)
	status, r1 := refresh(t, s, rt1)
	rt2, _ := r1["refresh_token"].(string)
	if status != http.StatusOK || rt2 == "" || rt2 == rt1 || r1["access_token"] == nil || r1["access_token"] == tok["access_token"] {
		t.Fatalf("first refresh: %d %v", status, r1)
	}
	if r1["scope"] != tok["scope"] {
		t.Errorf("refresh changed the scope: %v vs %v", r1["scope"], tok["scope"])
	}
	if status, body := refresh(t, s, rt1); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("rotated-out refresh token: %d %v", status, body)
	}
	// Without RevokeFamilyOnReuse the newest token still works.
	if status, body := refresh(t, s, rt2); status != http.StatusOK {
		t.Fatalf("current refresh token after a reuse attempt: %d %v", status, body)
	}
	if status, body := refresh(t, s, "garbage"); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("unknown refresh token: %d %v", status, body)
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, RotateRefreshTokens: true, RevokeFamilyOnReuse: true})
	rt1, _ := offlineTokens(t, s, "alice")["refresh_token"].(string)
	_, r1 := refresh(t, s, rt1)
	rt2, _ := r1["refresh_token"].(string)
	refresh(t, s, rt1)
	if status, _ := refresh(t, s, rt2); status != http.StatusBadRequest {
		t.Fatalf("after reuse, the family must be revoked; got %d", status)
	}
}

func TestRefreshWithoutRotation(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, RefreshReturnsIDToken: true})
	rt, _ := offlineTokens(t, s, "bob")["refresh_token"].(string)
	for i := 0; i < 2; i++ {
		status, body := refresh(t, s, rt)
		if status != http.StatusOK || body["refresh_token"] != nil || body["id_token"] == nil {
			t.Fatalf("refresh %d without rotation: %d %v", i, status, body)
		}
	}
	status, body, _ := postForm(t, s, PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid /acs/alidns"}}, DefaultClientID, DefaultClientSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Fatalf("widening scope on refresh: %d %v", status, body)
	}
}

func TestExpiresInAsString(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, ExpiresInAsString: true, AccessTokenTTL: 900e9})
	tok := offlineTokens(t, s, "alice")
	if tok["expires_in"] != "900" {
		t.Fatalf("expires_in = %#v, want the JSON string \"900\"", tok["expires_in"])
	}
}

func TestUserinfoAndIntrospection(t *testing.T) {
	for _, opaque := range []bool{false, true} {
		s := startIDP(t, Options{AutoApprove: true, OpaqueAccessTokens: opaque})
		tok := offlineTokens(t, s, "alice")
		at, _ := tok["access_token"].(string)
		if isJWT := strings.Count(at, ".") == 2; isJWT == opaque {
			t.Fatalf("opaque=%v but access token %q", opaque, at)
		}

		req, _ := http.NewRequest(http.MethodGet, s.URL()+PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+at)
		var info map[string]any
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || info["sub"] != "2000000000000002" || info["upn"] != "alice@example.onaliyun.com" || info["aid"] != DemoAccountID {
			t.Fatalf("opaque=%v userinfo: %d %v", opaque, resp.StatusCode, info)
		}
		for _, k := range []string{"iss", "aud", "exp", "iat"} {
			if _, has := info[k]; has {
				t.Errorf("userinfo carries %s", k)
			}
		}

		// Without or with a bad token: 401 and a Bearer challenge.
		for name, auth := range map[string]string{"none": "", "bad": "Bearer not-a-token"} {
			req, _ := http.NewRequest(http.MethodGet, s.URL()+PathUserinfo, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ch := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "Bearer") || (auth != "") != strings.Contains(ch, "invalid_token") {
				t.Errorf("userinfo %s token: %d %q", name, resp.StatusCode, ch)
			}
		}

		introspect := func(token string, user, pass string) (int, map[string]any) {
			status, body, _ := postForm(t, s, PathIntrospect, url.Values{"token": {token}}, user, pass)
			return status, body
		}
		status, body := introspect(at, DefaultClientID, DefaultClientSecret)
		if status != http.StatusOK || body["active"] != true || body["sub"] != "2000000000000002" ||
			body["client_id"] != DefaultClientID || body["iss"] != s.Issuer() || body["scope"] != tok["scope"] || body["exp"] == nil {
			t.Fatalf("introspect: %d %v", status, body)
		}
		rt, _ := tok["refresh_token"].(string)
		if _, body := introspect(rt, DefaultClientID, DefaultClientSecret); body["active"] != true || body["token_type"] != "refresh_token" {
			t.Fatalf("introspect refresh token: %v", body)
		}
		if status, body := introspect(at, DefaultClientID, "wrong"); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("introspect with a wrong secret: %d %v", status, body)
		}
		if _, body := introspect("garbage", DefaultClientID, DefaultClientSecret); body["active"] != false || len(body) != 1 {
			t.Fatalf("introspect garbage: %v", body)
		}

		// Revoking the refresh token also revokes the access token of the grant.
		if status, _, _ := postForm(t, s, PathRevoke, url.Values{"token": {rt}}, DefaultClientID, DefaultClientSecret); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		if _, body := introspect(at, DefaultClientID, DefaultClientSecret); body["active"] != false {
			t.Fatalf("access token still active after revocation: %v", body)
		}
		if code := userinfoStatus(t, s, at); code != http.StatusUnauthorized {
			t.Fatalf("userinfo after revocation: %d", code)
		}
		if status, _ := refresh(t, s, rt); status != http.StatusBadRequest {
			t.Fatalf("refresh after revocation: %d", status)
		}
		if c := s.Counts(); c.Userinfo < 4 || c.Introspect < 5 || c.Token < 2 || c.Revoke != 1 {
			t.Fatalf("counts %+v", c)
		}
	}
}

func TestUserinfoAcceptsMintedTokens(t *testing.T) {
	s := startIDP(t, Options{})
	raw, _ := s.MintFor("ops", []string{"openid", "profile"})
	if code := userinfoStatus(t, s, raw); code != http.StatusOK {
		t.Fatalf("userinfo with a MintFor token: %d", code)
	}
	noOpenID, _ := s.MintFor("ops", []string{"profile"})
	if code := userinfoStatus(t, s, noOpenID); code != http.StatusForbidden {
		t.Fatalf("userinfo without openid scope: %d, want 403", code)
	}
	expired, _ := s.MintFor("ops", []string{"openid"}, WithClaims(map[string]any{"exp": 1}))
	if code := userinfoStatus(t, s, expired); code != http.StatusUnauthorized {
		t.Fatalf("userinfo with an expired token: %d", code)
	}
}

func TestEndSessionValidatesRedirect(t *testing.T) {
	s := startIDP(t, Options{AutoApprove: true, Clients: []Client{{
		ID: "app", Secret: "app-secret", RedirectURIs: []string{testRedirect},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
	}}})
	q := url.Values{"client_id": {"app"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}, "login_hint": {"alice"}}
	resp, err := noFollow(s).Get(s.URL() + PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	code := redirectParams(t, resp).Get("code")
	_, tok, _ := postForm(t, s, PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}, "app", "app-secret")
	idt, _ := tok["id_token"].(string)
	idClaims, _, err := verify(t, s, idt)
	if err != nil {
		t.Fatal(err)
	}

	logout := func(q url.Values) *http.Response {
		resp, err := noFollow(s).Get(s.URL() + PathLogout + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for name, q := range map[string]url.Values{
		"unregistered uri":  {"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/bye"}},
		"no client known":   {"post_logout_redirect_uri": {"https://app.example/bye"}},
		"forged hint":       {"id_token_hint": {idt + "x"}, "post_logout_redirect_uri": {"https://app.example/bye"}},
		"client mismatch":   {"id_token_hint": {idt}, "client_id": {"other"}},
		"loopback not open": {"client_id": {"app"}, "post_logout_redirect_uri": {"http://127.0.0.1:1/bye"}},
	} {
		if resp := logout(q); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if len(s.Logouts()) != 0 {
		t.Fatalf("refused logouts were recorded: %v", s.Logouts())
	}
	resp = logout(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"xyz"}})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://app.example/bye?state=xyz" {
		t.Fatalf("valid logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	got := s.Logouts()
	if len(got) != 1 || got[0].ClientID != "app" || got[0].Subject != "2000000000000002" || got[0].SID != idClaims["sid"] || !got[0].IDTokenHintValid || got[0].State != "xyz" {
		t.Fatalf("recorded logouts %+v", got)
	}
	// Without a redirect: a signed-out page.
	if resp := logout(url.Values{}); resp.StatusCode != http.StatusOK || len(s.Logouts()) != 2 {
		t.Fatalf("bare logout: %d, %d recorded", resp.StatusCode, len(s.Logouts()))
	}
}
