package login

import (
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

func TestCheckIDTokenAudienceAndAzp(t *testing.T) {
	f := &Flow{cfg: FlowConfig{ClientID: "me"}}
	id := func(claims map[string]any) *identity.Identity {
		return &identity.Identity{Subject: "u", Claims: claims}
	}
	cases := []struct {
		name   string
		claims map[string]any
		nonce  string
		sub    string
		want   string // "" = accepted, else part of the message
	}{
		{"single aud", map[string]any{"aud": "me", "nonce": "n"}, "n", "", ""},
		{"aud list with azp", map[string]any{"aud": []any{"me", "api"}, "azp": "me", "nonce": "n"}, "n", "", ""},
		{"other aud", map[string]any{"aud": "you", "nonce": "n"}, "n", "", "(aud)"},
		{"aud list without azp", map[string]any{"aud": []any{"me", "api"}, "nonce": "n"}, "n", "", "(azp)"},
		{"azp for another", map[string]any{"aud": "me", "azp": "you", "nonce": "n"}, "n", "", "(azp)"},
		{"nonce not a string", map[string]any{"aud": "me", "nonce": 5}, "n", "", "nonce does not match"},
		{"refresh, no nonce needed", map[string]any{"aud": "me"}, "", "u", ""},
		{"refresh, other subject", map[string]any{"aud": "me"}, "", "v", "another subject"},
	}
	for _, c := range cases {
		err := f.checkIDToken(id(c.claims), c.nonce, c.sub)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %s", c.name, err.message)
		case c.want != "" && (err == nil || !strings.Contains(err.message, c.want)):
			t.Errorf("%s: got %v, want a refusal mentioning %q", c.name, err, c.want)
		}
	}
}
