package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// validateJSON provisions and validates a JSON config and returns the error
// text, or "" when it is valid.
func validateJSON(t *testing.T, cfgJSON string) string {
	t.Helper()
	var cfg caddy.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		return err.Error()
	}
	return ""
}

// TestProvisionErrorsSayItOnce: settings that reach Provision without the
// Caddyfile (JSON through the admin API) fail with one prefix per message,
// never `algorithms: algorithms:` or `duration: duration …`.
func TestProvisionErrorsSayItOnce(t *testing.T) {
	const provider = `"corp": {"issuer": "https://idp.example.com", "client_id": "a"%s}`
	app := func(body string) string {
		return `{"admin": {"disabled": true}, "apps": {"edgeauth": {` + body + `}}}`
	}
	for _, c := range []struct{ name, cfg, want, stutter string }{
		{"algorithms", app(`"providers": {` + fmt.Sprintf(provider, `, "algorithms": ["HS256"]`) + `}`),
			`algorithms: "HS256" is refused`, "algorithms: algorithms:"},
		{"sts duration", app(`"providers": {` + fmt.Sprintf(provider, "") + `}, "sts": {"alibaba": {"oidc_provider_arn": "acs:ram::1000000000000000:oidc-provider/x", "role_arn": "acs:ram::1000000000000000:role/x", "duration": "13h"}}`),
			"duration 13h0m0s is out of range", "duration: duration"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := validateJSON(t, c.cfg)
			if !strings.Contains(got, c.want) {
				t.Fatalf("error %q does not contain %q", got, c.want)
			}
			if strings.Contains(got, c.stutter) {
				t.Errorf("error %q stutters (%q)", got, c.stutter)
			}
		})
	}
}

// TestSessionSecretFromUnsetEnv: a session secret written as {env.X} with X
// unset or empty is refused with the variable's name, not "0 bytes".
func TestSessionSecretFromUnsetEnv(t *testing.T) {
	const name = "EDGEAUTH_TEST_SECRET_NEVER_SET"
	os.Unsetenv(name)
	cfg := `{
	admin off
	edgeauth {
		provider corp {
			issuer https://idp.example.com
			client_id a
		}
		session {
			secret {env.` + name + `}
		}
	}
}
http://127.0.0.1:9 {
	edgeauth corp {
		login
	}
	respond "unreachable"
}`
	got := loadError(t, cfg)
	if !strings.Contains(got, name) || strings.Contains(got, "0 bytes") {
		t.Fatalf("error %q: want the variable %s named, without \"0 bytes\"", got, name)
	}
	t.Setenv(name, "short")
	if got := loadError(t, cfg); !strings.Contains(got, name) || !strings.Contains(got, "5 bytes") {
		t.Fatalf("error %q: want the variable %s named with its length", got, name)
	}
}

// TestPresetWithOtherIssuerWarns: `preset aliyun` with an explicit issuer
// that is not the preset's loads, with a warning in Caddy's log naming both.
func TestPresetWithOtherIssuerWarns(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	logFile := writeFile(t, "caddy.log", "")
	e.logOpts = []string{"output file " + logFile, "level WARN", "format json"}
	e.start(e.globals(`		provider corp {
			preset aliyun
			issuer https://idp.example.com
			client_id 4000000000000000001
		}`) + e.site("edgeauth corp", ""))
	_ = caddy.Stop()
	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, "preset") &&
			strings.Contains(l, "https://oauth.aliyun.com") && strings.Contains(l, "https://idp.example.com") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no warning about the preset's issuer in the log:\n%s", raw)
	}
}
