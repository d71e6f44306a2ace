package oidc

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	good := "902ef2deeb3c5b13ea4c3d5193629309e231ae55"
	cases := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means valid
	}{
		{"https issuer", Config{Issuer: "https://idp.example.com"}, ""},
		{"https issuer with path and slash", Config{Issuer: "https://idp.example.com/tenant/"}, ""},
		{"http loopback v4", Config{Issuer: "http://127.0.0.1:9000"}, ""},
		{"http loopback 127/8", Config{Issuer: "http://127.9.8.7"}, ""},
		{"http loopback v6", Config{Issuer: "http://[::1]:9000"}, ""},
		{"http localhost", Config{Issuer: "http://localhost:9000"}, ""},
		{"missing issuer", Config{}, "issuer: missing"},
		{"http remote", Config{Issuer: "http://idp.example.com"},
			`issuer "http://idp.example.com": must use https (http is allowed only for loopback hosts)`},
		{"http lookalike", Config{Issuer: "http://localhost.evil.com"}, "must use https"},
		{"relative", Config{Issuer: "idp.example.com"}, "must be an absolute URL"},
		{"other scheme", Config{Issuer: "ftp://idp.example.com"}, `scheme "ftp" not supported`},
		{"query", Config{Issuer: "https://idp.example.com/?a=b"}, "must not have a query"},
		{"empty query", Config{Issuer: "https://idp.example.com/?"}, "must not have a query"},
		{"fragment", Config{Issuer: "https://idp.example.com/#x"}, "must not have a fragment"},
		{"empty fragment", Config{Issuer: "https://idp.example.com/#"}, "must not have a fragment"},
		{"user info", Config{Issuer: "https://u:p@idp.example.com"}, "must not contain user info"},
		{"thumbprint ok", Config{Issuer: "https://idp.example.com", Thumbprints: []string{good}}, ""},
		{"thumbprint upper with colons", Config{Issuer: "https://idp.example.com",
			Thumbprints: []string{"90:2E:F2:DE:EB:3C:5B:13:EA:4C:3D:51:93:62:93:09:E2:31:AE:55"}}, ""},
		{"thumbprint on http issuer", Config{Issuer: "http://127.0.0.1:9000", Thumbprints: []string{good}},
			"thumbprints: not allowed with the http issuer"},
		{"thumbprint on http jwks_uri", Config{Issuer: "https://idp.example.com", Thumbprints: []string{good},
			Overrides: Metadata{JWKSURI: "http://127.0.0.1/jwks"}}, "not allowed with the http jwks_uri"},
		{"six thumbprints", Config{Issuer: "https://idp.example.com",
			Thumbprints: []string{good, good, good, good, good, good}}, "at most 5"},
		{"short thumbprint", Config{Issuer: "https://idp.example.com", Thumbprints: []string{"abcd"}}, "must be 40 hex digits"},
		{"non-hex thumbprint", Config{Issuer: "https://idp.example.com",
			Thumbprints: []string{strings.Repeat("z", 40)}}, "only hex digits"},
		{"override ok", Config{Issuer: "https://idp.example.com",
			Overrides: Metadata{JWKSURI: "https://keys.example.com/jwks", TokenEndpoint: "http://localhost/token"}}, ""},
		{"override http remote", Config{Issuer: "https://idp.example.com",
			Overrides: Metadata{TokenEndpoint: "http://idp.example.com/token"}},
			`token_endpoint "http://idp.example.com/token": must use https`},
		{"override relative", Config{Issuer: "https://idp.example.com",
			Overrides: Metadata{JWKSURI: "/jwks"}}, `jwks_uri "/jwks": must be an absolute URL`},
		{"override issuer differs", Config{Issuer: "https://idp.example.com",
			Overrides: Metadata{Issuer: "https://other.example.com"}}, "leave it empty"},
		{"negative duration", Config{Issuer: "https://idp.example.com", KidCooldown: -time.Second}, "kid_cooldown -1s: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	if w := (Config{Issuer: "https://idp.example.com"}).Warnings(); len(w) != 0 {
		t.Fatalf("https issuer: warnings %q, want none", w)
	}
	w := (Config{Issuer: "http://127.0.0.1:9000", Overrides: Metadata{JWKSURI: "http://localhost/jwks"}}).Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "plain http") || !strings.Contains(w[1], "jwks_uri") {
		t.Fatalf("warnings = %q, want issuer and jwks_uri warnings", w)
	}
}

func TestNormalizeThumbprint(t *testing.T) {
	want := "902ef2deeb3c5b13ea4c3d5193629309e231ae55"
	for _, in := range []string{want, strings.ToUpper(want), "90:2e:f2:de:eb:3c:5b:13:ea:4c:3d:51:93:62:93:09:e2:31:ae:55", " " + want + " "} {
		got, err := NormalizeThumbprint(in)
		if err != nil || got != want {
			t.Errorf("NormalizeThumbprint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeThumbprint(want + "00"); err == nil {
		t.Error("42 digits accepted")
	}
}

func TestPoolKey(t *testing.T) {
	base := Config{Issuer: "https://idp.example.com", TLSCA: "/ca.pem"}
	if base.PoolKey() != (Config{Issuer: "https://idp.example.com", TLSCA: "/ca.pem"}).PoolKey() {
		t.Fatal("equal configs give different pool keys")
	}
	variants := []Config{
		{Issuer: "https://idp.example.com/", TLSCA: "/ca.pem"},
		{Issuer: "https://idp.example.com", TLSCA: "/other.pem"},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", Thumbprints: []string{"a"}},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", Overrides: Metadata{JWKSURI: "https://k/"}},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", Overrides: Metadata{EndSessionEndpoint: "https://k/"}},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", JWKSRefresh: time.Minute},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", KidCooldown: time.Minute},
		{Issuer: "https://idp.example.com", TLSCA: "/ca.pem", HTTPTimeout: time.Minute},
	}
	seen := map[string]int{base.PoolKey(): -1}
	for i, v := range variants {
		k := v.PoolKey()
		if j, dup := seen[k]; dup {
			t.Errorf("variant %d has the same pool key as %d: %s", i, j, k)
		}
		seen[k] = i
	}
}

func TestKeyLifetime(t *testing.T) {
	def := time.Hour
	cases := map[string]time.Duration{
		"":                         def,
		"no-cache":                 def,
		"public, max-age=600":      10 * time.Minute,
		"Max-Age=5":                time.Minute,
		"max-age=999999999":        24 * time.Hour,
		"max-age=abc":              def,
		`max-age="120", must-rev`:  2 * time.Minute,
		"s-maxage=10, max-age=300": 5 * time.Minute,
	}
	for in, want := range cases {
		if got := keyLifetime(in, def); got != want {
			t.Errorf("keyLifetime(%q) = %v, want %v", in, got, want)
		}
	}
}
