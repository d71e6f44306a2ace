package edgeauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"example.com":        `"example.com"`,
		`a"b\c`:              `"a\"b\\c"`,
		"evil\r\nX-Set: yes": `"evilX-Set: yes"`,
		"\x00\x7f":           `""`,
	}
	for in, want := range cases {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		header string
		tok    string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/?access_token=query", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		tok, ok := bearerToken(r)
		if tok != c.tok || ok != c.ok {
			t.Errorf("%q: got (%q, %v), want (%q, %v)", c.header, tok, ok, c.tok, c.ok)
		}
	}
}

func TestChallengeAnswers(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://api.example.com/x", nil)

	w := httptest.NewRecorder()
	_ = refuse(w, r, forbiddenDenial(r, decision.ReasonInsufficientScope, policy.Decision{Outcome: policy.InsufficientScope, Scopes: []string{"/acs/alidns", "profile"}}))
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="api.example.com", error="insufficient_scope", error_description="the token lacks a scope this route needs", scope="/acs/alidns profile"`; got != want {
		t.Errorf("scope challenge:\n got %s\nwant %s", got, want)
	}
	assertBody(t, w, http.StatusForbidden, "insufficient_scope")

	w = httptest.NewRecorder()
	_ = refuse(w, r, forbiddenDenial(r, decision.ReasonClaimMismatch, policy.Decision{Outcome: policy.AccessDenied}))
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer realm="api.example.com", error="insufficient_scope"`; got != want {
		t.Errorf("claim challenge: got %s want %s", got, want)
	}
	assertBody(t, w, http.StatusForbidden, "access_denied")

	w = httptest.NewRecorder()
	_ = refuse(w, r, unavailableDenial(decision.ReasonKeysUnavailable, "temporarily_unavailable", "keys not loaded", 1500*time.Millisecond, nil))
	if w.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want 2 (rounded up)", w.Header().Get("Retry-After"))
	}
	assertBody(t, w, http.StatusServiceUnavailable, "temporarily_unavailable")
}

func assertBody(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Errorf("status %d, want %d", w.Code, status)
	}
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != code {
		t.Errorf("body %s: error %q, want %q (%v)", w.Body.String(), body.Error, code, err)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("error answers must not be cached")
	}
}
