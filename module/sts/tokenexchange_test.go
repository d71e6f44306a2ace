package sts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

// fakeAS is an RFC 8693 token endpoint. The subject token decides the answer.
func fakeAS(t *testing.T, hits *atomic.Int32, check func(*http.Request, url.Values) string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if msg := check(r, r.PostForm); msg != "" {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": msg})
			return
		}
		switch tok := r.PostForm.Get("subject_token"); {
		case tok == "num":
			_, _ = w.Write([]byte(`{"access_token":"issued-1","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":300}`))
		case tok == "str":
			_, _ = w.Write([]byte(`{"access_token":"issued-2","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":"600"}`))
		case strings.HasPrefix(tok, "jwt:"):
			_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok[4:], "issued_token_type": TokenTypeJWT, "token_type": "N_A"})
		case tok == "500":
			w.WriteHeader(500)
		default:
			status := 400
			if tok == "invalid_client" {
				status = 401
			}
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": tok, "error_description": "because " + tok})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTokenExchange(t *testing.T) {
	var hits atomic.Int32
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := fakeAS(t, &hits, func(r *http.Request, f url.Values) string {
		id, secret, ok := r.BasicAuth()
		switch {
		case !ok || id != "gw%3Aclient" || secret != "s%26cret":
			return "basic auth wrong: " + id
		case f.Get("grant_type") != GrantTypeTokenExchange || f.Get("subject_token_type") != TokenTypeIDToken:
			return "grant or type wrong"
		case strings.Join(f["audience"], " ") != "api-1 api-2" || f.Get("resource") != "https://api.example.com/" || f.Get("scope") != "read":
			return "audience/resource/scope wrong"
		case f.Has("client_secret") || f.Has("client_id") || r.URL.RawQuery != "":
			return "credentials or token leaked outside Basic/body"
		}
		return ""
	})
	c, err := NewTokenExchange(TokenExchangeConfig{TokenEndpoint: srv.URL, ClientID: "gw:client", ClientSecret: "s&cret",
		SubjectTokenType: TokenTypeIDToken, Audience: []string{"api-1", "api-2"}, Resource: []string{"https://api.example.com/"},
		Scope:     "read",
		Transport: Transport{Now: func() time.Time { return now }, Timeout: 2 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := c.Exchange(context.Background(), Request{Token: "num"})
	if err != nil {
		t.Fatal(err)
	}
	if cr.SecurityToken != "issued-1" || cr.AccessKeyID != "" || cr.AccessKeySecret != "" || !cr.Expiration.Equal(now.Add(300*time.Second)) {
		t.Errorf("number expires_in: %#v %v", cr, cr.Expiration)
	}
	cr, err = c.Exchange(context.Background(), Request{Token: "str"})
	if err != nil || !cr.Expiration.Equal(now.Add(600*time.Second)) {
		t.Errorf("string expires_in: %v %v", cr, err)
	}
	jwtExp := time.Date(2030, 1, 1, 0, 20, 0, 0, time.UTC)
	issued, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": jwtExp.Unix()}).SignedString([]byte("k"))
	cr, err = c.Exchange(context.Background(), Request{Token: "jwt:" + issued})
	if err != nil || !cr.Expiration.Equal(jwtExp) {
		t.Errorf("no expires_in, JWT exp: %v %v", cr, err)
	}
	cr, err = c.Exchange(context.Background(), Request{Token: "jwt:opaque"})
	if err != nil || !cr.Expiration.Equal(now.Add(5*time.Minute)) {
		t.Errorf("no expires_in, opaque: %v %v", cr, err)
	}

	for code, want := range map[string]ErrorKind{
		"invalid_grant": InvalidToken, "unauthorized_client": Forbidden, "invalid_target": Forbidden, "invalid_scope": Forbidden,
		"invalid_client": Misconfigured, "invalid_request": Misconfigured, "unsupported_grant_type": Misconfigured,
	} {
		hits.Store(0)
		_, err := c.Exchange(context.Background(), Request{Token: code})
		e := asError(t, err)
		// The fake echoes the subject token (= the code): it must be redacted.
		if e.Kind != want || e.Code != code || e.Message != "because "+redacted || hits.Load() != 1 {
			t.Errorf("%s: %+v after %d requests", code, e, hits.Load())
		}
	}
	hits.Store(0)
	_, err = c.Exchange(context.Background(), Request{Token: "500"})
	if e := asError(t, err); e.Kind != Unavailable || e.HTTPStatus != 500 || hits.Load() != 3 {
		t.Errorf("500: %+v after %d requests", e, hits.Load())
	}
}

func TestTokenExchangePostAuthAndOverrides(t *testing.T) {
	var hits atomic.Int32
	srv := fakeAS(t, &hits, func(r *http.Request, f url.Values) string {
		if _, _, ok := r.BasicAuth(); ok {
			return "basic auth used"
		}
		if f.Get("client_id") != "gw" || f.Get("client_secret") != "pw" || f.Get("audience") != "override" || f.Get("scope") != "write" ||
			f.Get("requested_token_type") != TokenTypeJWT || f.Get("subject_token_type") != TokenTypeAccessToken {
			return "post auth or overrides wrong"
		}
		return ""
	})
	c, err := NewTokenExchange(TokenExchangeConfig{TokenEndpoint: srv.URL, ClientID: "gw", ClientSecret: "pw",
		AuthMethod: clientauth.SecretPost, RequestedTokenType: TokenTypeJWT, Audience: []string{"default"}, Scope: "read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exchange(context.Background(), Request{Token: "num", Audience: "override", Scope: "write"}); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []TokenExchangeConfig{
		{TokenEndpoint: "http://as.example.com/token"},
		{TokenEndpoint: srv.URL, AuthMethod: "private_key_jwt"},
		{TokenEndpoint: srv.URL, ClientSecret: "x"},
		{TokenEndpoint: srv.URL, Resource: []string{"relative/path"}},
	} {
		if _, err := NewTokenExchange(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
