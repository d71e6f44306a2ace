package sts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

func TestFileTokenSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	src := NewFileTokenSource(path)
	if _, _, err := src.Token(context.Background()); err == nil {
		t.Fatal("missing file gave a token")
	}
	exp1 := time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)
	tok1, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp1.Unix()}).SignedString([]byte("k"))
	if err := os.WriteFile(path, []byte("\n "+tok1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, exp, err := src.Token(context.Background())
	if err != nil || got != tok1 || !exp.Equal(exp1) {
		t.Fatalf("got %q %v %v", got, exp, err)
	}
	// Rotated underneath: re-read on every call.
	if err := os.WriteFile(path, []byte("opaque-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, exp, err = src.Token(context.Background())
	if err != nil || got != "opaque-token" || !exp.IsZero() {
		t.Fatalf("after rotation: %q %v %v", got, exp, err)
	}
	if err := os.WriteFile(path, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
}

func TestClientCredentialsSource(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != "gw" || secret != "pw" || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "sts" {
			w.WriteHeader(401)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "who are you"})
			return
		}
		time.Sleep(20 * time.Millisecond)
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "wl-token", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer srv.Close()
	now := time.Now()
	var mu sync.Mutex
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	src, err := NewClientCredentialsSource(ClientCredentialsConfig{TokenEndpoint: srv.URL, ClientID: "gw", ClientSecret: "pw",
		Scopes: []string{"sts"}, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, _, err := src.Token(context.Background()); err != nil || tok != "wl-token" {
				t.Errorf("got %q %v", tok, err)
			}
		}()
	}
	wg.Wait()
	if hits.Load() != 1 {
		t.Errorf("%d token requests for 10 concurrent callers", hits.Load())
	}
	mu.Lock()
	now = now.Add(59*time.Minute + 30*time.Second) // inside the 1m refresh margin
	mu.Unlock()
	if _, _, err := src.Token(context.Background()); err != nil || hits.Load() != 2 {
		t.Errorf("not refreshed inside the margin: %v, %d requests", err, hits.Load())
	}

	bad, _ := NewClientCredentialsSource(ClientCredentialsConfig{TokenEndpoint: srv.URL, ClientID: "gw", ClientSecret: "wrong-secret",
		AuthMethod: clientauth.SecretPost})
	_, _, err = bad.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("refused: %v", err)
	}
	for _, cfg := range []ClientCredentialsConfig{
		{TokenEndpoint: "http://as.example.com", ClientID: "a", ClientSecret: "b"},
		{TokenEndpoint: srv.URL, ClientID: "a"},
		{TokenEndpoint: srv.URL, ClientID: "a", ClientSecret: "b", AuthMethod: "tls_client_auth"},
	} {
		if _, err := NewClientCredentialsSource(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
