package edgeauth

import (
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

func TestHandlerUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`edgeauth aliyun idaas {
		public /healthz /static/*
		public /favicon.ico
		scope /dns/* /acs/alidns
		claim /billing/* type account user
		header X-User {http.auth.user.upn}
		header -X-Auth-Email
		strip_prefix X-Remote-
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := Handler{
		Providers:     []string{"aliyun", "idaas"},
		Public:        []string{"/healthz", "/static/*", "/favicon.ico"},
		Scopes:        []policy.ScopeRule{{Paths: []string{"/dns/*"}, Scopes: []string{"/acs/alidns"}}},
		Claims:        []policy.ClaimRule{{Paths: []string{"/billing/*"}, Claim: "type", Values: []string{"account", "user"}}},
		Headers:       []HeaderConfig{{Name: "X-User", Value: "{http.auth.user.upn}"}, {Name: "-X-Auth-Email"}},
		StripPrefixes: []string{"X-Remote-"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %+v\nwant %+v", h, want)
	}
}

func TestAppUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`edgeauth {
		provider a {
			issuer https://a.example.com
			client_id app
			scopes openid profile
			scopes aliuid
			clock_skew 10s
		}
		provider b {
			issuer https://b.example.com
			audiences x y
		}
		token_cache {
			max_entries 10
		}
	}`)
	var app App
	if err := app.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if len(app.Providers) != 2 || app.Providers["a"].ClientID != "app" || app.Providers["b"].Audiences[1] != "y" {
		t.Fatalf("providers: %+v", app.Providers)
	}
	if got := app.Providers["a"].Scopes; !reflect.DeepEqual(got, []string{"openid", "profile", "aliuid"}) {
		t.Errorf("repeated scopes lines: %v", got)
	}
	if app.TokenCache.MaxEntries != 10 {
		t.Errorf("token_cache: %+v", app.TokenCache)
	}
}

// FuzzCaddyfile feeds arbitrary text to both parsers: they may refuse it, but
// must never panic.
func FuzzCaddyfile(f *testing.F) {
	seeds := []string{
		"edgeauth aliyun {\n public /x\n scope /a b\n claim /c d e\n header X-A {x}\n header -X-B\n}",
		"edgeauth {\n provider p {\n issuer https://x\n clock_skew 1s\n }\n token_cache {\n max_entries 1\n }\n}",
		"edgeauth {\n provider {\n}\n}",
		"edgeauth {\n scope\n}",
		"edgeauth {\n header\n}",
		"edgeauth {{{",
		"edgeauth {\n token_cache {\n max_ttl x\n }\n}",
		"",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var h Handler
		_ = h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
		var app App
		_ = app.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
	})
}
