package clientauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// received is what a loopback token endpoint saw.
type received struct {
	basicUser, basicPass string
	hasBasic             bool
	form                 url.Values
	contentType, accept  string
}

func endpoint(t *testing.T) (string, *received) {
	t.Helper()
	got := &received{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.basicUser, got.basicPass, got.hasBasic = r.BasicAuth()
		got.contentType, got.accept = r.Header.Get("Content-Type"), r.Header.Get("Accept")
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		got.form = r.PostForm
	}))
	t.Cleanup(srv.Close)
	return srv.URL, got
}

func send(t *testing.T, c Client, form url.Values) *received {
	t.Helper()
	u, got := endpoint(t)
	req, err := c.NewRequest(context.Background(), u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return got
}

func TestMethodsPlaceTheCredentials(t *testing.T) {
	form := url.Values{"grant_type": {"refresh_token"}}
	// RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
	got := send(t, Client{ID: "my client", Secret: "s3cr:t/+", Method: SecretBasic}, form)
	if !got.hasBasic || got.basicUser != "my+client" || got.basicPass != "s3cr%3At%2F%2B" {
		t.Errorf("basic: %q %q %v", got.basicUser, got.basicPass, got.hasBasic)
	}
	if got.form.Has("client_id") || got.form.Has("client_secret") || got.form.Get("grant_type") != "refresh_token" {
		t.Errorf("basic form: %v", got.form)
	}
	if got.contentType != "application/x-www-form-urlencoded" || got.accept != "application/json" {
		t.Errorf("headers: %q %q", got.contentType, got.accept)
	}

	got = send(t, Client{ID: "app", Secret: "sec", Method: SecretPost}, form)
	if got.hasBasic || got.form.Get("client_id") != "app" || got.form.Get("client_secret") != "sec" {
		t.Errorf("post: %v basic=%v", got.form, got.hasBasic)
	}

	got = send(t, Client{ID: "app", Method: None}, form)
	if got.hasBasic || got.form.Get("client_id") != "app" || got.form.Has("client_secret") {
		t.Errorf("none: %v basic=%v", got.form, got.hasBasic)
	}
	// Defaults: a secret means Basic; no secret means a public client.
	if got := send(t, Client{ID: "app", Secret: "sec"}, form); !got.hasBasic {
		t.Error("default with a secret is not Basic")
	}
	if got := send(t, Client{ID: "app", Method: SecretBasic}, form); got.hasBasic || got.form.Get("client_id") != "app" {
		t.Errorf("basic without a secret: %v basic=%v", got.form, got.hasBasic)
	}
	if len(form) != 1 {
		t.Errorf("the caller's form was modified: %v", form)
	}
}

func TestRequestBodyReplays(t *testing.T) {
	req, err := Client{ID: "app", Secret: "sec", Method: SecretPost}.NewRequest(context.Background(), "https://idp.example/token", url.Values{"a": {"b"}})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(req.Body)
	again, _ := req.GetBody()
	second, _ := io.ReadAll(again)
	if string(first) != string(second) || !strings.Contains(string(first), "client_secret=sec") {
		t.Fatalf("bodies %q / %q", first, second)
	}
}

func TestErrorsHoldNoSecret(t *testing.T) {
	_, err := Client{ID: "app", Secret: "topsecret", Method: "private_key_jwt"}.NewRequest(context.Background(), "https://idp.example/token", nil)
	if err == nil || !strings.Contains(err.Error(), "private_key_jwt") {
		t.Fatalf("unknown method: %v", err)
	}
	_, err = Client{ID: "app", Secret: "topsecret"}.NewRequest(context.Background(), "://bad", url.Values{"token": {"tok-value"}})
	if err == nil || strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "tok-value") {
		t.Fatalf("bad URL: %v", err)
	}
	if Check("") != nil || Check(None) != nil || Check("basic") == nil {
		t.Error("Check")
	}
}
