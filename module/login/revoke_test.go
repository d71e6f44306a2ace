package login

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

// TestRedTeamRevokeRequestAndOutcomes covers TokenClient.Revoke against a
// loopback server: the RFC 7009 form with the token endpoint's client
// authentication (Alibaba: client_secret in the form), any 200 as success,
// and errors that never carry the token or the secret.
func TestRedTeamRevokeRequestAndOutcomes(t *testing.T) {
	const rt, secret = "rt-0123456789-secret-refresh", "client-secret-xyz"
	var (
		mu     sync.Mutex
		got    url.Values
		status = http.StatusOK
		body   = ""
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		got = r.PostForm
		s, b := status, body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s)
		_, _ = w.Write([]byte(b))
	}))
	defer srv.Close()
	tc := &TokenClient{ClientID: "app", ClientSecret: secret, AuthMethod: clientauth.SecretPost}
	set := func(s int, b string) { mu.Lock(); status, body = s, b; mu.Unlock() }

	// 200 with an empty or unexpected body is success.
	for _, b := range []string{"", "not json", `{"code":"OK"}`} {
		set(http.StatusOK, b)
		if err := tc.Revoke(context.Background(), srv.URL, rt, "refresh_token"); err != nil {
			t.Errorf("200 %q: %v, want success", b, err)
		}
	}
	mu.Lock()
	form := got
	mu.Unlock()
	if form.Get("token") != rt || form.Get("token_type_hint") != "refresh_token" || form.Get("client_id") != "app" || form.Get("client_secret") != secret {
		t.Errorf("revocation form = %v, want token, token_type_hint, client_id and client_secret", form)
	}

	// An OAuth error that echoes the token: *OAuthError, redacted.
	set(http.StatusBadRequest, `{"error":"invalid_client","error_description":"bad client for `+rt+` / `+secret+`"}`)
	err := tc.Revoke(context.Background(), srv.URL, rt, "refresh_token")
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Errorf("400 invalid_client: %v, want *OAuthError", err)
	}
	// 503 (with or without an OAuth body): unavailable.
	for _, b := range []string{"", `{"error":"temporarily_unavailable"}`} {
		set(http.StatusServiceUnavailable, b)
		if err := tc.Revoke(context.Background(), srv.URL, rt, "refresh_token"); !errors.Is(err, ErrTokenEndpointUnavailable) {
			t.Errorf("503 %q: %v, want ErrTokenEndpointUnavailable", b, err)
		}
	}
	if err != nil && (strings.Contains(err.Error(), rt) || strings.Contains(err.Error(), secret)) {
		t.Errorf("error leaks the token or secret: %v", err)
	}
}

// TestRedTeamRevokeIsBounded: a provider that hangs does not hold Revoke
// past its context's deadline.
func TestRedTeamRevokeIsBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := (&TokenClient{ClientID: "app"}).Revoke(ctx, srv.URL, "rt-hanging-token", "refresh_token")
	if !errors.Is(err, ErrTokenEndpointUnavailable) || time.Since(start) > 2*time.Second {
		t.Errorf("hanging provider: %v after %v, want ErrTokenEndpointUnavailable within the deadline", err, time.Since(start))
	}
	if strings.Contains(err.Error(), "rt-hanging-token") {
		t.Errorf("error leaks the token: %v", err)
	}
}

// TestRedTeamRevocationEndpointScheme: the refresh token goes to an https
// revocation endpoint, or an http one only when the token endpoint is http
// too.
func TestRedTeamRevocationEndpointScheme(t *testing.T) {
	for _, c := range []struct {
		rev, tok string
		ok       bool
	}{
		{"https://idp.example/revoke", "https://idp.example/token", true},
		{"http://idp.example/revoke", "https://idp.example/token", false},
		{"http://127.0.0.1:9/revoke", "http://127.0.0.1:9/token", true},
		{"https://user:pw@idp.example/revoke", "https://idp.example/token", false},
		{"/revoke", "https://idp.example/token", false},
		{"javascript:alert(1)", "https://idp.example/token", false},
		{"ftp://idp.example/revoke", "ftp://idp.example/token", false},
	} {
		if got := revocableOver(c.rev, c.tok); got != c.ok {
			t.Errorf("revocableOver(%q, %q) = %v, want %v", c.rev, c.tok, got, c.ok)
		}
	}
}
