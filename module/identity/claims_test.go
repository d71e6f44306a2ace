package identity

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeClaims decodes a JSON object the way the token package does: numbers
// as json.Number.
func decodeClaims(t testing.TB, js string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return m
}

const sampleClaims = `{
	"sub": "1234",
	"name": "Zhang San",
	"big": 12345678901234567890,
	"neg": -42,
	"dec": 3.25,
	"exp1": 1e21,
	"exp2": 1.5E-7,
	"exp3": -2.50e2,
	"zero_exp": 0e10,
	"verified": true,
	"disabled": false,
	"groups": ["dev", "ops"],
	"mixed": ["a", 1, true, null, ""],
	"one": ["only"],
	"with_obj": ["a", {"b": "c"}],
	"nested_arr": [["a"]],
	"empty_arr": [],
	"address": {"country": "CN", "geo": {"lat": 30.25}, "tags": ["x", "y"]},
	"a.b": "literal never used for a path",
	"a": {"b": "nested wins", "c": "nested"},
	"x": {"y.z": "dotted member unreachable"},
	"null": null,
	"empty": "",
	"evil": "line1\r\nX-Injected: yes\u0000\u007f\u0085",
	"emoji": "héllo 👋"
}`

func TestClaimValue(t *testing.T) {
	claims := decodeClaims(t, sampleClaims)
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"sub", "1234", true},
		{"name", "Zhang San", true},
		{"big", "12345678901234567890", true},
		{"neg", "-42", true},
		{"dec", "3.25", true},
		{"exp1", "1000000000000000000000", true},
		{"exp2", "0.00000015", true},
		{"exp3", "-250", true},
		{"zero_exp", "0", true},
		{"verified", "true", true},
		{"disabled", "false", true},
		{"groups", "dev ops", true},
		{"mixed", "a 1 true", true},
		{"one", "only", true},
		{"with_obj", "", false},
		{"nested_arr", "", false},
		{"empty_arr", "", false},
		{"address", "", false},
		{"address.country", "CN", true},
		{"address.geo.lat", "30.25", true},
		{"address.geo", "", false},
		{"address.tags", "x y", true},
		{"address.missing", "", false},
		{"a.b", "nested wins", true},
		{"a.c", "nested", true},
		{"x.y.z", "", false},
		{"null", "", false},
		{"empty", "", false},
		{"absent", "", false},
		{"", "", false},
		{"sub.x", "", false},
		{"evil", "", false}, // control characters: not exported (not sanitized into another value)
		{"emoji", "héllo 👋", true},
	}
	for _, tt := range tests {
		got, ok := ClaimValue(claims, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ClaimValue(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestClaimValueGoTypes(t *testing.T) {
	claims := map[string]any{
		"f64":     1e21,
		"f64frac": 0.1,
		"small":   1e-7,
		"int":     -7,
		"int64":   int64(9007199254740993),
		"uint64":  uint64(18446744073709551615),
		"strs":    []string{"a", "b"},
		"obj":     map[string]any{"k": "v"},
	}
	tests := map[string]string{
		"f64":     "1000000000000000000000",
		"f64frac": "0.1",
		"small":   "0.0000001",
		"int":     "-7",
		"int64":   "9007199254740993",
		"uint64":  "18446744073709551615",
		"strs":    "a b",
	}
	for path, want := range tests {
		if got, ok := ClaimValue(claims, path); !ok || got != want {
			t.Errorf("ClaimValue(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	if got, ok := ClaimValue(claims, "obj"); ok {
		t.Errorf("object exported as %q", got)
	}
	if _, ok := ClaimValue(nil, "sub"); ok {
		t.Error("nil claims gave a value")
	}
}

func TestPlainNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-0", "-0"},
		{"12345678901234567890123", "12345678901234567890123"},
		{"1.000", "1.000"}, // plain decimal: literal text kept
		{"1e0", "1"},
		{"1.23e2", "123"},
		{"1.23e1", "12.3"},
		{"1.23e+5", "123000"},
		{"123e-5", "0.00123"},
		{"-1.5e-1", "-0.15"},
		{"0.0e5", "0"},
		{"-0e3", "0"},
		{"9.99E400", "999" + strings.Repeat("0", 398)},
	}
	for _, tt := range tests {
		got, ok := plainNumber(tt.in)
		if !ok || got != tt.want {
			t.Errorf("plainNumber(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "-", "abc", "1.", ".5", "1e", "1e+", "1e401", "1e-9999999999999", "0x10", "1_000", "NaN", "1e5x", "--1"} {
		if got, ok := plainNumber(bad); ok {
			t.Errorf("plainNumber(%q) = %q, want refusal", bad, got)
		}
	}
}

// FuzzClaimValue decodes arbitrary JSON as claims and checks that whatever is
// exported is a clean header value, and that objects are never exported.
func FuzzClaimValue(f *testing.F) {
	f.Add(sampleClaims, "address.country")
	f.Add(`{"n": 1e400}`, "n")
	f.Add(`{"n": -1.5e-300}`, "n")
	f.Add(`{"a": {"b": {"c": [1, "x\u0001"]}}}`, "a.b.c")
	f.Add(`{"a.b": {"c": "d"}, "a": {"b.c": "e"}}`, "a.b.c")
	f.Add(`{"s": "\u0085\u009f\u00a0"}`, "s")
	f.Fuzz(func(t *testing.T, js, path string) {
		dec := json.NewDecoder(strings.NewReader(js))
		dec.UseNumber()
		var claims map[string]any
		if dec.Decode(&claims) != nil {
			return
		}
		v, ok := ClaimValue(claims, path)
		if !ok {
			if v != "" {
				t.Fatalf("not ok but value %q", v)
			}
			return
		}
		if v == "" || !utf8.ValidString(v) || Sanitize(v) != v {
			t.Fatalf("ClaimValue(%q) = %q: not a clean non-empty value", path, v)
		}
		if raw, _ := LookupClaim(claims, path); isObject(raw) {
			t.Fatalf("object exported as %q", v)
		}
		if n, isNum := mustLookup(claims, path).(json.Number); isNum && bytes.ContainsAny([]byte(v), "eE+") {
			t.Fatalf("number %s exported in exponent form %q", n, v)
		}
	})
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func mustLookup(claims map[string]any, path string) any {
	v, _ := LookupClaim(claims, path)
	return v
}
