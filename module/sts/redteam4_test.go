package sts

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/clientauth"
)

// TestRedTeam4TokenExchangeErrorHidesEchoedSecrets: an RFC 8693 token
// endpoint that echoes what it was sent must not put the gateway's client
// secret, or the caller's token, into the sts.Error. Its Message is logged
// (Misconfigured: "check the sts settings"), its Code is logged and put
// into the client's JSON error body (`code`) by denySTS.
//
// The logsafe commit (3f64405) redacts an echoed client secret for the
// client-credentials source and the login token client, but
// TokenExchange.parse passes only the subject token to logsafe.Message and
// copies `error` unfiltered into Code.
func TestRedTeam4TokenExchangeErrorHidesEchoedSecrets(t *testing.T) {
	const secret = "gw-exchange-secret-7f3a9c"
	const subject = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlcy10b2tlbg"
	for _, tc := range []struct {
		name   string
		status int
		body   func(f url.Values) map[string]string
	}{
		{"secret echoed in error_description", http.StatusUnauthorized, func(f url.Values) map[string]string {
			return map[string]string{"error": "invalid_client", "error_description": "client_secret " + f.Get("client_secret") + " does not match"}
		}},
		{"secret echoed in error", http.StatusUnauthorized, func(f url.Values) map[string]string {
			return map[string]string{"error": "invalid_client:" + f.Get("client_secret"), "error_description": "bad client"}
		}},
		{"subject token echoed in error", http.StatusBadRequest, func(f url.Values) map[string]string {
			return map[string]string{"error": "invalid_request subject_token=" + f.Get("subject_token"), "error_description": "bad"}
		}},
		{"forged log line in error", http.StatusBadRequest, func(f url.Values) map[string]string {
			return map[string]string{"error": "invalid_request\n{\"level\":\"info\",\"msg\":\"forged\"}", "error_description": "bad"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_ = json.NewEncoder(w).Encode(tc.body(r.PostForm))
			}))
			defer srv.Close()
			c, err := NewTokenExchange(TokenExchangeConfig{TokenEndpoint: srv.URL, ClientID: "gw", ClientSecret: secret,
				AuthMethod: clientauth.SecretPost, Transport: Transport{Timeout: 2 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Exchange(context.Background(), Request{Token: subject})
			e := asError(t, err)
			for _, field := range []struct{ name, v string }{{"Message", e.Message}, {"Code", e.Code}, {"Error()", e.Error()}} {
				if strings.Contains(field.v, secret) {
					t.Errorf("%s holds the gateway's client secret: %q", field.name, field.v)
				}
				if strings.Contains(field.v, "c2lnbmF0dXJlLW9mLWFsaWNlcy10b2tlbg") {
					t.Errorf("%s holds the caller's token: %q", field.name, field.v)
				}
				if strings.ContainsAny(field.v, "\n\r") {
					t.Errorf("%s holds a line break: %q", field.name, field.v)
				}
			}
		})
	}
}

// TestRedTeam4ClientCredentialsEchoedFormBody: a token endpoint that quotes
// the request body it could not accept (form-encoded, as sent) echoes the
// client secret percent-encoded; logsafe only removes the secret's literal
// bytes, so a secret with any of + / = & % (every base64 secret) reaches the
// error (logged by the workload token source).
func TestRedTeam4ClientCredentialsEchoedFormBody(t *testing.T) {
	const secret = "Zm9v+YmFy/c2VjcmV0=="
	err := refusedClientCredentials(t, secret, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "cannot parse body " + string(raw)})
	})
	enc := url.QueryEscape(secret)
	if strings.Contains(err.Error(), enc) || strings.Contains(err.Error(), secret) {
		t.Errorf("the client secret (as sent, %q) is in the error: %q", enc, err)
	}
}

// TestRedTeam4TokenExchangeEchoedBasicAuth: with client_secret_basic (the
// default), a token endpoint that quotes the Authorization header it
// refused echoes base64(client_id:client_secret); logsafe redacts the
// secret's literal bytes only, so the secret reached the logged message in
// a form anyone reading the log decodes.
func TestRedTeam4TokenExchangeEchoedBasicAuth(t *testing.T) {
	const secret = "gw-exchange-secret-basic-9c1e"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": "client authentication failed for Authorization: " + r.Header.Get("Authorization")})
	}))
	defer srv.Close()
	c, err := NewTokenExchange(TokenExchangeConfig{TokenEndpoint: srv.URL, ClientID: "gw", ClientSecret: secret,
		Transport: Transport{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Exchange(context.Background(), Request{Token: "subject-token-value"})
	e := asError(t, err)
	enc := base64.StdEncoding.EncodeToString([]byte("gw:" + secret))
	if strings.Contains(e.Message, enc) || strings.Contains(e.Error(), enc) {
		t.Errorf("the Basic credentials (base64 of client_id:client_secret) are in the error: %q", e.Message)
	}
}
