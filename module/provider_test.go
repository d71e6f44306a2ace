package edgeauth

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestProviderCompile(t *testing.T) {
	t.Setenv("EDGEAUTH_TEST_CLIENT", "app-from-env")
	ok := func() *ProviderConfig {
		return &ProviderConfig{Issuer: "https://idp.example.com", ClientID: "app"}
	}
	oc, rules, err := ok().compile()
	if err != nil {
		t.Fatal(err)
	}
	if oc.Issuer != "https://idp.example.com" || rules.Issuer != oc.Issuer {
		t.Errorf("issuer not carried: %q %q", oc.Issuer, rules.Issuer)
	}
	if len(rules.Audiences) != 1 || rules.Audiences[0] != "app" {
		t.Errorf("default audience = %v, want the client ID", rules.Audiences)
	}
	if rules.ClockSkew != 30*time.Second {
		t.Errorf("default clock skew = %s", rules.ClockSkew)
	}

	env := ok()
	env.ClientID = "{env.EDGEAUTH_TEST_CLIENT}"
	if _, rules, err := env.compile(); err != nil || rules.Audiences[0] != "app-from-env" {
		t.Errorf("placeholder in client_id not resolved: %v %v", rules.Audiences, err)
	}

	bad := map[string]func(*ProviderConfig){
		"issuer: required":         func(p *ProviderConfig) { p.Issuer = "" },
		"https":                    func(p *ProviderConfig) { p.Issuer = "http://idp.example.com" },
		"audiences: none":          func(p *ProviderConfig) { p.ClientID = "" },
		"at most 50":               func(p *ProviderConfig) { p.Audiences = make([]string, 51) },
		"empty audience":           func(p *ProviderConfig) { p.Audiences = []string{"a", ""} },
		"algorithms":               func(p *ProviderConfig) { p.Algorithms = []string{"HS256"} },
		"clock_skew":               func(p *ProviderConfig) { p.ClockSkew = caddy.Duration(time.Hour) },
		"max_token_age":            func(p *ProviderConfig) { p.MaxTokenAge = caddy.Duration(30 * time.Minute) },
		"must not be negative":     func(p *ProviderConfig) { p.KidCooldown = -1 },
		"thumbprint":               func(p *ProviderConfig) { p.Thumbprints = []string{"nothex"} },
		"max_token_age: 169h0m0s ": func(p *ProviderConfig) { p.MaxTokenAge = caddy.Duration(169 * time.Hour) },
		"opaque_cache_ttl: 500ms":  func(p *ProviderConfig) { p.OpaqueCacheTTL = caddy.Duration(500 * time.Millisecond) },
		"opaque_cache_ttl: 2h0m0s": func(p *ProviderConfig) { p.OpaqueCacheTTL = caddy.Duration(2 * time.Hour) },
	}
	for want, mutate := range bad {
		pc := ok()
		mutate(pc)
		_, _, err := pc.compile()
		if err == nil {
			t.Errorf("%s: accepted", want)
			continue
		}
		if !strings.Contains(err.Error(), strings.TrimSpace(want)) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, name := range []string{"aliyun", "idaas-1", "a.b_c"} {
		if err := validateName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for _, name := range []string{"", "-x", "a b", "x/y", strings.Repeat("a", 65)} {
		if err := validateName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

// TestFinding10TokenTypesOption: token_types becomes the verifier's typ
// allow-list (`absent` for untyped tokens); values that are never bearer
// tokens, empty values and non-media-types are refused at load time with
// the directive named.
func TestFinding10TokenTypesOption(t *testing.T) {
	pc := &ProviderConfig{Issuer: "https://idp.example.com", ClientID: "app"}
	if _, rules, err := pc.compile(); err != nil || rules.Types != nil {
		t.Fatalf("default: types %q, %v; want nil (the token package's default)", rules.Types, err)
	}
	pc.TokenTypes = []string{"at+jwt", "application/JWT", "absent"}
	_, rules, err := pc.compile()
	if err != nil || strings.Join(rules.Types, ",") != "at+jwt,application/JWT," {
		t.Fatalf("types %q, %v", rules.Types, err)
	}
	for _, bad := range [][]string{{"logout+jwt"}, {"JWT", "application/secevent+jwt"}, {"dpop+jwt"}, {""}, {"text/plain"}, {"a b"}} {
		pc.TokenTypes = bad
		if _, _, err := pc.compile(); err == nil || !strings.Contains(err.Error(), "token_types") {
			t.Errorf("token_types %q: %v, want an error naming token_types", bad, err)
		}
	}
}
