package sts

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// A token endpoint that echoes the client secret in its error description
// or code does not put it into the gateway's error (which is logged).
func TestClientCredentialsErrorHidesEchoedSecret(t *testing.T) {
	const secret = "s3cr3t-client-value"
	err := refusedClientCredentials(t, secret, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got := r.PostForm.Get("client_secret")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"error":             "bad_" + got,
			"error_description": "client_secret " + got + " is wrong",
		})
	})
	if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), logsafe.Redacted) {
		t.Errorf("error = %q", err)
	}
}

// refusedClientCredentials asks a token endpoint that answers with answer
// for a client-credentials token with secret (sent in the form body), and
// returns the refusal's error, failing the test if a token came back.
func refusedClientCredentials(t *testing.T, secret string, answer http.HandlerFunc) error {
	t.Helper()
	srv := httptest.NewServer(answer)
	defer srv.Close()
	src, err := NewClientCredentialsSource(ClientCredentialsConfig{TokenEndpoint: srv.URL, ClientID: "gw",
		ClientSecret: secret, AuthMethod: clientauth.SecretPost})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = src.Token(context.Background())
	if err == nil {
		t.Fatal("refused request gave a token")
	}
	return err
}
