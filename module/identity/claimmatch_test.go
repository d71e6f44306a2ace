package identity

import (
	"testing"
)

// TestFinding5ClaimHasComparesRawValue: a claim value that only sanitizes to
// the wanted value does not match it; sanitizing is for output only.
func TestFinding5ClaimHasComparesRawValue(t *testing.T) {
	near := []string{
		"acc\u0000ount", "acc\tount", "account\r\n", "account ", " account", "\u0085account",
		"acc\u007fount", "acc\xffount", "Account", "ACCOUNT",
		"\u0430ccount",      // Cyrillic а
		"acc\u200bount",     // zero-width space
		"account\u00a0",     // no-break space
		"ａｃｃｏｕｎｔ",           // full-width
		"acco\u0301unt",     // combining accent
		"\u202eaccount",     // right-to-left override
		"account\u0000user", // NUL-joined second value
	}
	for _, v := range near {
		for _, claims := range []map[string]any{
			{"type": v},
			{"type": []any{v}},
			{"type": []string{v}},
			{"org": map[string]any{"type": v}},
		} {
			path := "type"
			if _, nested := claims["org"]; nested {
				path = "org.type"
			}
			if ClaimHas(claims, path, "account") {
				t.Errorf("ClaimHas(%q = %q, account) = true; only the exact value may match", path, v)
			}
		}
	}
	// The exact value matches, as a scalar and as an array element; numbers
	// and booleans compare in their exported text.
	exact := decodeClaims(t, `{"type": "account", "groups": ["dev", "billing"], "aid": 1000, "big": 1e3, "admin": true}`)
	for _, c := range []struct{ path, want string }{
		{"type", "account"}, {"groups", "billing"}, {"aid", "1000"}, {"big", "1000"}, {"admin", "true"},
	} {
		if !ClaimHas(exact, c.path, "x", c.want) {
			t.Errorf("ClaimHas(%s, %s) = false, want true", c.path, c.want)
		}
	}
	// A rule value with the same control bytes matches only the same raw value.
	if !ClaimHas(map[string]any{"type": "acc\tount"}, "type", "acc\tount") || ClaimHas(map[string]any{"type": "account"}, "type", "acc\tount") {
		t.Error("raw values must compare exactly")
	}
	// Empty values never match, not even an empty rule value.
	if ClaimHas(map[string]any{"type": ""}, "type", "") || ClaimHas(map[string]any{"type": []any{""}}, "type", "") {
		t.Error("an empty claim matched")
	}
	// An array holding an object or array matches nothing.
	if ClaimHas(map[string]any{"groups": []any{"billing", map[string]any{"x": "y"}}}, "groups", "billing") {
		t.Error("an array with a container element matched")
	}
}

// TestFinding9DottedPathIsNestedOnly: a dotted path is read through nested
// objects only; a claim whose name contains a dot is never used for it, in
// either order of the JSON members.
func TestFinding9DottedPathIsNestedOnly(t *testing.T) {
	for _, js := range []string{
		`{"org.role": "admin", "org": {"role": "user"}}`,
		`{"org": {"role": "user"}, "org.role": "admin"}`,
	} {
		claims := decodeClaims(t, js)
		if ClaimHas(claims, "org.role", "admin") {
			t.Errorf("%s: the literal dotted claim satisfied org.role admin", js)
		}
		if !ClaimHas(claims, "org.role", "user") {
			t.Errorf("%s: the nested claim org.role = user was not found", js)
		}
		if v, _ := ClaimValue(claims, "org.role"); v != "user" {
			t.Errorf("%s: ClaimValue(org.role) = %q, want the nested value", js, v)
		}
	}
	// A namespaced claim (no claim named like the path's first name) is
	// reachable under its full name; a URL-named claim is the usual case.
	namespaced := decodeClaims(t, `{"org.role": "admin", "https://example.com/roles": ["a", "b"]}`)
	if v, ok := ClaimValue(namespaced, "org.role"); !ok || v != "admin" {
		t.Errorf("namespaced org.role = %q, %v; want admin", v, ok)
	}
	if !ClaimHas(namespaced, "https://example.com/roles", "b") {
		t.Error("the URL-named claim is not reachable")
	}
	for _, js := range []string{
		`{"org.role": "admin", "org": {}}`,
		`{"org": {"role.x": "admin"}, "org.role": {"x": "admin"}}`,
		`{"org": "admin", "org.role": "admin"}`,
	} {
		claims := decodeClaims(t, js)
		for _, path := range []string{"org.role", "org.role.x"} {
			if v, ok := LookupClaim(claims, path); ok {
				t.Errorf("%s: LookupClaim(%s) = %v; when the first name is a claim, only nested objects answer a dotted path", js, path, v)
			}
		}
	}
	// Malformed paths find nothing.
	claims := decodeClaims(t, `{"a": {"": {"b": "x"}, "b": "y"}, "": "z"}`)
	for _, path := range []string{".", "a.", ".a", "a..b", "a.b."} {
		if v, ok := LookupClaim(claims, path); ok {
			t.Errorf("LookupClaim(%q) = %v, want nothing", path, v)
		}
	}
	if v, ok := ClaimValue(claims, "a.b"); !ok || v != "y" {
		t.Errorf("ClaimValue(a.b) = %q, %v", v, ok)
	}
}
