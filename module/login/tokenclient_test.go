package login

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

// tokenEndpoint records what it received and answers with status/body.
type tokenEndpoint struct {
	mu     sync.Mutex
	form   url.Values
	auth   string
	ctype  string
	status int
	body   string
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	e.ctype = r.Header.Get("Content-Type")
	e.auth = r.Header.Get("Authorization")
	_ = r.ParseForm()
	e.form = r.PostForm
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = io.WriteString(w, e.body)
}

func newTokenEndpoint(t *testing.T, status int, body string) (*tokenEndpoint, *httptest.Server) {
	e := &tokenEndpoint{status: status, body: body}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

const okBody = `{"access_token":"AT","token_type":"Bearer","expires_in":3600,"refresh_token":"RT","id_token":"IDT","scope":"openid profile"}`

func TestTokenClientBasicAuth(t *testing.T) {
	e, srv := newTokenEndpoint(t, 200, okBody)
	now := time.Unix(1_700_000_000, 0)
	c := &TokenClient{ClientID: "my client", ClientSecret: "s3cr:t/+", AuthMethod: clientauth.SecretBasic, Now: func() time.Time { return now }}
	tr, err := c.Exchange(context.Background(), srv.URL, "CODE", "https://app/cb", "VERIFIER")
	if err != nil {
		t.Fatal(err)
	}
	if tr.AccessToken != "AT" || tr.RefreshToken != "RT" || tr.IDToken != "IDT" || tr.TokenType != "Bearer" ||
		tr.Scope != "openid profile" || tr.ExpiresIn != 3600 || !tr.Expiry.Equal(now.Add(time.Hour)) {
		t.Fatalf("unexpected response %+v", tr)
	}
	// RFC 6749 §2.3.1: form-urlencode id and secret, then Basic.
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("my+client:s3cr%3At%2F%2B"))
	if e.auth != want {
		t.Errorf("Authorization = %q, want %q", e.auth, want)
	}
	if e.ctype != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", e.ctype)
	}
	for k, v := range map[string]string{"grant_type": "authorization_code", "code": "CODE", "redirect_uri": "https://app/cb", "code_verifier": "VERIFIER"} {
		if e.form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, e.form.Get(k), v)
		}
	}
	if e.form.Has("client_secret") || e.form.Has("client_id") {
		t.Error("basic auth also sent client credentials in the body")
	}
}

func TestTokenClientPostAuthAndStringExpiry(t *testing.T) {
	e, srv := newTokenEndpoint(t, 200, `{"access_token":"AT2","token_type":"Bearer","expires_in":"7200"}`)
	c := &TokenClient{ClientID: "4000000000000000001", ClientSecret: "sec", AuthMethod: clientauth.SecretPost}
	tr, err := c.Refresh(context.Background(), srv.URL, "OLD-RT", []string{"openid", "aliuid"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.ExpiresIn != 7200 || tr.RefreshToken != "" || tr.AccessToken != "AT2" {
		t.Fatalf("unexpected response %+v", tr)
	}
	if e.auth != "" {
		t.Error("client_secret_post also sent an Authorization header")
	}
	for k, v := range map[string]string{"grant_type": "refresh_token", "refresh_token": "OLD-RT", "scope": "openid aliuid",
		"client_id": "4000000000000000001", "client_secret": "sec"} {
		if e.form.Get(k) != v {
			t.Errorf("form %s = %q, want %q", k, e.form.Get(k), v)
		}
	}
	// Public client.
	c = &TokenClient{ClientID: "pub"}
	if _, err := c.Refresh(context.Background(), srv.URL, "RT", nil); err != nil {
		t.Fatal(err)
	}
	if e.auth != "" || e.form.Get("client_id") != "pub" || e.form.Has("client_secret") || e.form.Has("scope") {
		t.Errorf("public client sent auth %q form %v", e.auth, e.form)
	}
}

func TestFlexSeconds(t *testing.T) {
	for in, want := range map[string]int64{`3600`: 3600, `"3600"`: 3600, `" 60 "`: 60, `3600.0`: 3600, `null`: 0, `"abc"`: 0, `-5`: 0, `true`: 0, `"1e3"`: 1000} {
		var f flexSeconds
		if err := f.UnmarshalJSON([]byte(in)); err != nil || int64(f) != want {
			t.Errorf("expires_in %s → %d (%v), want %d", in, f, err, want)
		}
	}
}

func TestTokenClientErrors(t *testing.T) {
	ctx := context.Background()
	c := &TokenClient{ClientID: "c", ClientSecret: "topsecret", AuthMethod: clientauth.SecretPost}

	_, srv := newTokenEndpoint(t, 400, `{"error":"invalid_grant","error_description":"code THE-CODE is expired; client topsecret\u0007"}`)
	_, err := c.Exchange(ctx, srv.URL, "THE-CODE", "https://app/cb", "VERIFIER")
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || oe.Status != 400 {
		t.Fatalf("OAuth error: got %v", err)
	}
	for _, leak := range []string{"THE-CODE", "topsecret", "\u0007"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error text %q leaks %q", err.Error(), leak)
		}
	}
	if errors.Is(err, ErrTokenEndpointUnavailable) {
		t.Error("an OAuth error must not count as unavailable")
	}

	// An OAuth error inside a 200 (seen in the wild).
	_, srv = newTokenEndpoint(t, 200, `{"error":"invalid_client"}`)
	if _, err := c.Exchange(ctx, srv.URL, "x", "r", "v"); !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Errorf("200 with error: got %v", err)
	}

	unavailable := map[string]*httptest.Server{}
	_, unavailable["5xx"] = newTokenEndpoint(t, 502, `<html>bad gateway</html>`)
	_, unavailable["5xx with oauth body"] = newTokenEndpoint(t, 503, `{"error":"temporarily_unavailable"}`)
	_, unavailable["non-JSON 200"] = newTokenEndpoint(t, 200, `<html>hello</html>`)
	_, unavailable["no access token"] = newTokenEndpoint(t, 200, `{"token_type":"Bearer"}`)
	_, unavailable["4xx without oauth body"] = newTokenEndpoint(t, 404, `not found`)
	_, unavailable["huge body"] = newTokenEndpoint(t, 200, `{"access_token":"`+strings.Repeat("a", MaxTokenResponseSize)+`"}`)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	unavailable["unreachable"] = down
	for name, srv := range unavailable {
		_, err := c.Exchange(ctx, srv.URL, "THE-CODE", "r", "VERIFIER")
		if !errors.Is(err, ErrTokenEndpointUnavailable) {
			t.Errorf("%s: got %v, want ErrTokenEndpointUnavailable", name, err)
			continue
		}
		if strings.Contains(err.Error(), "THE-CODE") || strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: error leaks the code or secret: %v", name, err)
		}
	}

	if _, err := (&TokenClient{ClientID: "c", AuthMethod: "private_key_jwt"}).Exchange(ctx, srv.URL, "x", "r", "v"); err == nil {
		t.Error("unknown auth method accepted")
	}
}
