package identity

import (
	"strings"
	"testing"
)

func mustPattern(t *testing.T, s string) Pattern {
	t.Helper()
	p, err := CompilePattern(s)
	if err != nil {
		t.Fatalf("CompilePattern(%q): %v", s, err)
	}
	return p
}

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"account", []string{"account"}, []string{"Account", "account ", "accounts", "acc", ""}},
		{"team-*", []string{"team-", "team-a", "team-a-b", "team-*"}, []string{"team", "Team-a", "xteam-a", "team\u0000-a"}},
		{"*-admins", []string{"-admins", "eu-admins", "a-b-admins"}, []string{"admins", "eu-admins ", "eu-Admins"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "acbc", "abcbc"}, []string{"ab", "acb", "abcx"}},
		{"?", []string{"a", "é", "界", "*"}, []string{"", "ab", "\u0000", "\t", "\u0085", "\u007f"}},
		{"v?", []string{"v1", "vé"}, []string{"v", "v12"}},
		{"*", []string{"x", "anything at all", "日本"}, []string{"a\u0000b", "line\r\n", "acc\u007fount", "a\u0085b"}},
		{`a\*b`, []string{"a*b"}, []string{"aXb", "ab", `a\*b`}},
		{`a\?`, []string{"a?"}, []string{"ab"}},
		{`DOMAIN\\Admins`, []string{`DOMAIN\Admins`}, []string{`DOMAIN\\Admins`, "DOMAINAdmins"}},
		{`\**`, []string{"*", "*x"}, []string{"x*"}},
		{"**", []string{"x", "xy"}, []string{"\u0000"}},
		{"[a]", []string{"[a]"}, []string{"a"}},
		// A literal control byte in the rule matches only that raw byte.
		{"acc\tount*", []string{"acc\tount", "acc\tount-x"}, []string{"account"}},
	}
	for _, tt := range tests {
		p := mustPattern(t, tt.pattern)
		for _, s := range tt.match {
			if !p.Match(s) {
				t.Errorf("%q does not match %q", tt.pattern, s)
			}
		}
		for _, s := range tt.miss {
			if p.Match(s) {
				t.Errorf("%q matches %q", tt.pattern, s)
			}
		}
	}
	// Long inputs stay cheap: backtracking only to the last star.
	p := mustPattern(t, "*a*a*a*a*a*b")
	if p.Match(strings.Repeat("a", 20000)) {
		t.Error("matched a string without b")
	}
}

func TestCompilePatternErrors(t *testing.T) {
	for _, bad := range []string{"", `a\`, `a\b`, `\d+`, `x\@y`} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("CompilePattern(%q) succeeded, want an error", bad)
		} else if bad != "" && !strings.Contains(err.Error(), `\\`) {
			t.Errorf("CompilePattern(%q) error %q does not show the fix (\\\\)", bad, err)
		}
	}
}

// TestClaimMatches: patterns read the raw claim, like ClaimHas: any element
// of an array, numbers and booleans in their text, nothing for containers.
func TestClaimMatches(t *testing.T) {
	claims := decodeClaims(t, `{
		"groups": ["dev", "team-billing", "Domain Admins"],
		"one": "team-ops",
		"spaced": "team-a team-b",
		"aid": 1000000000000000001,
		"admin": true,
		"mixed": ["team-x", {"a": "team-y"}],
		"nested": [["team-z"]],
		"empty": "",
		"nothing": null,
		"org": {"unit": "team-core"}
	}`)
	pats := func(s ...string) []Pattern {
		var out []Pattern
		for _, v := range s {
			out = append(out, mustPattern(t, v))
		}
		return out
	}
	tests := []struct {
		path string
		pats []Pattern
		want bool
	}{
		{"groups", pats("team-*"), true},
		{"groups", pats("admins"), false},
		{"groups", pats("Domain Admins"), true},
		{"groups", pats("Domain"), false},
		{"groups", pats("x", "dev"), true},
		{"one", pats("team-*"), true},
		{"spaced", pats("team-a"), false}, // a string claim is one value, not a list
		{"spaced", pats("team-a *"), true},
		{"aid", pats("1000*"), true},
		{"aid", pats("1000000000000000001"), true},
		{"admin", pats("true"), true},
		{"admin", pats("t*"), true},
		{"mixed", pats("team-*"), false},
		{"nested", pats("*"), false},
		{"empty", pats("*"), false},
		{"nothing", pats("*"), false},
		{"absent", pats("*"), false},
		{"org", pats("*"), false},
		{"org.unit", pats("team-*"), true},
	}
	for _, tt := range tests {
		if got := ClaimMatches(claims, tt.path, tt.pats); got != tt.want {
			t.Errorf("ClaimMatches(%s, %v) = %v, want %v", tt.path, tt.pats, got, tt.want)
		}
	}
	// The look-alikes that ClaimHas refuses are refused by an exact pattern
	// too, and by a wildcard pattern wherever a control character would
	// have to be absorbed.
	for _, v := range []string{"acc\u0000ount", "account\r\n", "acc\tount", "\u0430ccount", "Account"} {
		if ClaimMatches(map[string]any{"type": v}, "type", pats("account")) {
			t.Errorf("%q matched account", v)
		}
	}
	for _, v := range []string{"acc\u0000ount", "account\r\n", "acc\tount", "acc\u0085ount"} {
		if ClaimMatches(map[string]any{"type": v}, "type", pats("acc*")) {
			t.Errorf("%q matched acc*: a wildcard absorbed a control character", v)
		}
	}
}
