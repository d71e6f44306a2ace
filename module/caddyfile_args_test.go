package edgeauth

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parseGlobal and parseDirective run the two Caddyfile parsers on src.
func parseGlobal(src string) error {
	var a App
	return a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
}

func parseDirective(src string) error {
	var h Handler
	return h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
}

// TestCaddyfileValueErrors: every way of getting one value wrong (none, two,
// not a duration, not a number, a value on a flag, a block after a value) is
// refused with an error that names the option with its block and the line to
// write, whichever block the option is in.
func TestCaddyfileValueErrors(t *testing.T) {
	global := func(body string) string { return "edgeauth {\n" + body + "\n}" }
	provider := func(line string) string { return global("provider p {\n" + line + "\n}") }
	redis := func(line string) string {
		return global("session {\nstore redis {\naddress 127.0.0.1:6379\n" + line + "\n}\n}")
	}
	login := func(line string) string { return "edgeauth p {\nlogin {\n" + line + "\n}\n}" }
	cases := []struct {
		name  string
		parse func(string) error
		src   string
		want  []string
	}{
		{"string missing", parseGlobal, provider("issuer"), []string{"provider issuer: a value is required; write `issuer <value>`"}},
		{"string two", parseGlobal, provider("client_id a b"), []string{"provider client_id: takes exactly one value, not 2; write `client_id <value>`"}},
		{"string with block", parseGlobal, provider("issuer https://x {\nfoo\n}"), []string{"provider issuer: takes no block"}},
		{"duration missing", parseGlobal, provider("clock_skew"), []string{"provider clock_skew: a duration is required; write `clock_skew <duration>`, e.g. `clock_skew 30s`"}},
		{"duration bad", parseGlobal, global("session {\nlifetime forever\n}"), []string{`session lifetime: "forever" is not a duration; write ` + "`lifetime <duration>`"}},
		{"duration two", parseGlobal, global("token_cache {\nmax_ttl 1m 2m\n}"), []string{"token_cache max_ttl: takes exactly one duration, not 2"}},
		{"int bad", parseGlobal, redis("db -1"), []string{`store redis db: "-1" is not a whole number ≥ 0; write ` + "`db <n>`"}},
		{"int missing", parseGlobal, global("token_cache {\nmax_entries\n}"), []string{"token_cache max_entries: a number is required"}},
		{"int two", parseGlobal, global("sts s {\nmax_entries 1 2\n}"), []string{"sts max_entries: takes exactly one number, not 2"}},
		{"flag value", parseDirective, login("allow_missing_nonce yes"), []string{`login allow_missing_nonce: takes no value, found "yes"; write ` + "`allow_missing_nonce` alone"}},
		{"flag block", parseGlobal, redis("tls {\nx\n}"), []string{"store redis tls: takes no block"}},
		{"block opener value", parseGlobal, global("session strict {\nlifetime 1h\n}"), []string{`session: takes no value, found "strict"; write ` + "`session { … }`"}},
		{"name missing", parseGlobal, global("sts {\ntype aws\n}"), []string{"sts: a name is required; write `sts <name> { … }`, e.g. `sts alibaba { … }`"}},
		{"name two", parseGlobal, global("provider a b {\nissuer https://x\n}"), []string{"provider: takes exactly one name, not 2"}},
		{"directive sts name two", parseDirective, "edgeauth {\nsts a b\n}", []string{"sts: takes exactly one name, not 2", "edgeauth global option"}},
		{"directive sts role two", parseDirective, "edgeauth {\nsts a {\nrole_arn x y\n}\n}", []string{"sts role_arn: takes exactly one value, not 2; write `role_arn <value>`"}},
		{"optional two", parseGlobal, provider("dpop_nonce 1m 2m"), []string{"provider dpop_nonce: takes at most one window, not 2; write `dpop_nonce` or `dpop_nonce 5m`"}},
		{"optional bad", parseGlobal, provider("dpop_nonce soon"), []string{`provider dpop_nonce: "soon" is not a duration`}},
		{"near_cache value", parseGlobal, redis("near_cache on"), []string{`store redis near_cache: "on" is not a setting; write ` + "`near_cache off`"}},
		{"store kind missing", parseGlobal, global("session {\nstore {\n}\n}"), []string{"session store: a kind is required; write `store redis { … }`"}},
		{"decision level two", parseDirective, "edgeauth {\ndecision_log_level info warn\n}", []string{"decision_log_level: takes exactly one level, not 2; write `decision_log_level debug|info|warn|error`"}},
		{"client_credentials field", parseGlobal, global("sts s {\nclient_credentials {\nclient_id\n}\n}"), []string{"sts client_credentials client_id: a value is required; write `client_id <value>`"}},
		{"assertion audience block", parseDirective, "edgeauth {\nassertion https://a {\nx\n}\n}", []string{"assertion: takes no block"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.parse(c.src)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.src)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), ", at Testfile:") {
				t.Errorf("error %q carries no Caddyfile line", err)
			}
		})
	}
}

// TestCaddyfileValues: the same helpers read well-formed values, and an
// empty block after a value-only option is harmless.
func TestCaddyfileValues(t *testing.T) {
	var a App
	src := `edgeauth {
		provider p {
			issuer https://idp.example.com
			clock_skew 10s
			dpop_nonce 2m
		}
		session {
			cookie_name sid
			store redis {
				address 127.0.0.1:6379
				db 3
				tls
				near_cache off
			}
		}
		token_cache {
			max_entries 0
			max_ttl 1m
		}
	}`
	if err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src)); err != nil {
		t.Fatal(err)
	}
	p := a.Providers["p"]
	if p.Issuer != "https://idp.example.com" || time.Duration(p.ClockSkew) != 10*time.Second || !p.DPoPNonce || time.Duration(p.DPoPNonceWindow) != 2*time.Minute {
		t.Errorf("provider: %+v", p)
	}
	rc := a.Session.Store.Redis
	if a.Session.CookieName != "sid" || rc.DB != 3 || !rc.TLS || rc.NearCache == nil || !rc.NearCache.Off {
		t.Errorf("session: %+v, redis %+v", a.Session, rc)
	}
	if a.TokenCache.MaxEntries != 0 || time.Duration(a.TokenCache.MaxTTL) != time.Minute {
		t.Errorf("token_cache: %+v", a.TokenCache)
	}

	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("edgeauth p {\nlogin /auth/ {\nallow_missing_nonce\n}\nassertion https://orders.internal\npass_access_token\n}")); err != nil {
		t.Fatal(err)
	}
	if h.Login.Prefix != "/auth/" || !h.Login.AllowMissingNonce || h.Assertion.Audience != "https://orders.internal" || !h.PassAccessToken {
		t.Errorf("handler: %+v, login %+v", h, h.Login)
	}
}
