package token

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestDecodeClaimsRefusesWhatParseRefuses: the exported decoder refuses
// lossy text, repeated names (escaped, case-folded, nested) and anything
// but one object, and keeps numbers exact.
func TestDecodeClaimsRefusesWhatParseRefuses(t *testing.T) {
	for in, want := range map[string]error{
		`{"jti":"\ud800"}`:                ErrLossyJSON,
		"{\"htu\":\"a\xff\"}":             ErrLossyJSON,
		`{"htm":"GET","htm":"POST"}`:      ErrDuplicateMember,
		`{"htm":"GET","HTM":"POST"}`:      ErrDuplicateMember,
		`{"ht\u006d":"GET","htm":"POST"}`: ErrDuplicateMember,
		`{"jwk":{"x":"a","x":"b"}}`:       ErrDuplicateMember,
		`{"a":1} {"a":1}`:                 ErrNotJSONObject,
		`[{"a":1}]`:                       ErrNotJSONObject,
		`{"a":01}`:                        ErrNotJSONObject,
	} {
		if _, err := DecodeClaims([]byte(in)); !errors.Is(err, want) {
			t.Errorf("DecodeClaims(%s) = %v, want %v", in, err, want)
		}
	}
	m, err := DecodeClaims([]byte(`{"iat":1562262618,"n":12345678901234567890.5e-3,"jwk":{"kty":"EC"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m["iat"] != json.Number("1562262618") || m["n"] != json.Number("12345678901234567890.5e-3") {
		t.Errorf("numbers not kept as written: %v", m)
	}
	if jwk, ok := m["jwk"].(map[string]any); !ok || jwk["kty"] != "EC" {
		t.Errorf("nested object lost: %v", m)
	}
}
