package token

import (
	"slices"
	"testing"
)

func TestSplitScopes(t *testing.T) {
	for in, want := range map[string][]string{
		"openid profile":            {"openid", "profile"},
		"  openid   /acs/alidns  ":  {"openid", "/acs/alidns"},
		"openid\u00a0/acs/alidns":   nil,
		"openid\t/acs/alidns":       nil,
		"a b\u2028c d":              {"a", "d"},
		"a \"b\" c\\d e":            {"a", "e"},
		"":                          nil,
		"read:x|.all urn:api:write": {"read:x|.all", "urn:api:write"},
	} {
		if got := SplitScopes(in); !slices.Equal(got, want) {
			t.Errorf("SplitScopes(%q) = %q, want %q", in, got, want)
		}
	}
	claims := map[string]any{"scope": "a b\u00a0c", "scp": []any{"d", "e f", "d", 7}}
	if got := scopes(claims); !slices.Equal(got, []string{"a", "d"}) {
		t.Errorf("scopes = %q", got)
	}
}
