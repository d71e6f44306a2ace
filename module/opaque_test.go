package edgeauth

import (
	"math"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Finding 1: `preset aliyun` turned userinfo checks of opaque tokens on by
// default. No preset sets opaque_tokens now.
func TestFinding1PresetDoesNotTurnOnOpaqueTokens(t *testing.T) {
	for _, preset := range []string{"aliyun", "aliyun_intl"} {
		pc, err := ProviderConfig{Preset: preset, ClientID: "4000000000000000001"}.withPreset()
		if err != nil {
			t.Fatal(err)
		}
		if pc.OpaqueTokens != "" {
			t.Errorf("preset %s sets opaque_tokens %q", preset, pc.OpaqueTokens)
		}
		explicit, _ := ProviderConfig{Preset: preset, OpaqueTokens: opaqueUserinfo}.withPreset()
		if explicit.OpaqueTokens != opaqueUserinfo {
			t.Errorf("preset %s overrides an explicit opaque_tokens userinfo: %q", preset, explicit.OpaqueTokens)
		}
	}
}

// opaque_rate: out-of-range values refused at load with the directive's
// name (the defaults are the engine's: token.TestOpaqueDefaults).
func TestOpaqueRateConfig(t *testing.T) {
	pc := &ProviderConfig{Issuer: "https://idp.example.com", ClientID: "gw"}
	for _, bad := range []ProviderConfig{{OpaqueRate: -1}, {OpaqueRate: 10001}, {OpaqueRate: math.NaN()}, {OpaqueBurst: -1}, {OpaqueBurst: 100001}} {
		bad.Issuer, bad.ClientID = pc.Issuer, pc.ClientID
		if _, _, err := bad.compile(); err == nil || !strings.Contains(err.Error(), "opaque_rate") {
			t.Errorf("rate %v burst %d: %v, want an opaque_rate error", bad.OpaqueRate, bad.OpaqueBurst, err)
		}
	}
	d := caddyfile.NewTestDispenser("provider corp {\n opaque_rate 90/m 7\n}")
	d.Next()
	d.Next()
	var got ProviderConfig
	if err := got.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if got.OpaqueRate != 1.5 || got.OpaqueBurst != 7 {
		t.Errorf("opaque_rate 90/m 7: %v/s burst %d", got.OpaqueRate, got.OpaqueBurst)
	}
	for _, bad := range []string{"opaque_rate", "opaque_rate 20", "opaque_rate 0/s", "opaque_rate -1/s", "opaque_rate 20/s x", "opaque_rate 20/s 1 2", "opaque_rate Inf/s"} {
		d := caddyfile.NewTestDispenser("provider corp {\n " + bad + "\n}")
		d.Next()
		d.Next()
		var pc ProviderConfig
		if err := pc.UnmarshalCaddyfile(d); err == nil || !strings.Contains(err.Error(), "opaque_rate") {
			t.Errorf("%q: %v, want an opaque_rate error", bad, err)
		}
	}
}
