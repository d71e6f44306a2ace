package edgeauth

import (
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

func TestHandlerUnmarshalOptionalAndRelay(t *testing.T) {
	var h Handler
	d := caddyfile.NewTestDispenser(`edgeauth corp {
		optional / /blog/*
		optional *.html
		pass_access_token
	}`)
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h.Optional, []string{"/", "/blog/*", "*.html"}) || !h.PassAccessToken {
		t.Errorf("got optional %v, pass_access_token %v", h.Optional, h.PassAccessToken)
	}
}

// TestTokenPlaceholders: a session gives both tokens, a bearer request the
// presented token and no ID token; an anonymous request every identity and
// token placeholder empty, and nothing else.
func TestTokenPlaceholders(t *testing.T) {
	sess := &session.Session{AccessToken: "at-1", IDToken: "id-1"}
	repl := caddy.NewReplacer()
	provideTokens(repl, httptest.NewRequest("GET", "/", nil), sess)
	if got := repl.ReplaceKnown("{http.auth.access_token}|{http.auth.id_token}", "-"); got != "at-1|id-1" {
		t.Errorf("session: %q", got)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer tok-2")
	repl = caddy.NewReplacer()
	provideTokens(repl, r, nil)
	if got := repl.ReplaceKnown("{http.auth.access_token}|{http.auth.id_token}", "-"); got != "tok-2|-" {
		t.Errorf("bearer: %q", got)
	}
	repl = caddy.NewReplacer()
	provideAnonymous(repl)
	if got := repl.ReplaceKnown("{http.auth.access_token}|{http.auth.id_token}|{http.auth.user.id}|{http.auth.user.email}|{http.request.x}", ""); got != "||||{http.request.x}" {
		t.Errorf("anonymous: %q", got)
	}
	if _, ok := anonymousValue("http.request.host"); ok {
		t.Error("anonymous answers keys that are not the identity's")
	}
}

// TestRelaySessionToken: the session's token replaces every spelling of the
// client's Authorization; a token no header can carry replaces it with
// nothing; without pass_access_token, or for a bearer request, nothing
// changes.
func TestRelaySessionToken(t *testing.T) {
	h := &Handler{PassAccessToken: true}
	for tok, want := range map[string][]string{
		"eyJ.abc-_~+/=": {"Bearer eyJ.abc-_~+/="},
		"":              nil,
		"a b":           nil,
		"a\r\nX: y":     nil,
		"caf\xc3\xa9":   nil,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{"Basic x"}
		r.Header["authorization"] = []string{"Bearer y"}
		h.relaySessionToken(r, &session.Session{AccessToken: tok})
		if got := r.Header["Authorization"]; !reflect.DeepEqual(got, want) || r.Header["authorization"] != nil {
			t.Errorf("token %q: Authorization %q (lower-case %q), want %q", tok, got, r.Header["authorization"], want)
		}
	}
	for _, c := range []struct {
		h    *Handler
		sess *session.Session
	}{{&Handler{}, &session.Session{AccessToken: "at"}}, {h, nil}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer mine")
		c.h.relaySessionToken(r, c.sess)
		if r.Header.Get("Authorization") != "Bearer mine" {
			t.Errorf("pass_access_token %v, session %v: Authorization changed to %q", c.h.PassAccessToken, c.sess != nil, r.Header.Get("Authorization"))
		}
	}
}
