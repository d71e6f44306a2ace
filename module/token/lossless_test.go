package token

import (
	"encoding/base64"
	"testing"
)

// TestSiblingLossyClaimsRefused (issue 9, values normalised before they are
// compared): a payload that encoding/json would decode lossily (invalid
// UTF-8, lone surrogate escapes) is refused, so two different subjects can
// never decode to the same one; proper pairs and ordinary escapes pass.
func TestSiblingLossyClaimsRefused(t *testing.T) {
	tok := func(payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + "." + enc([]byte("sig"))
	}
	refused := []string{
		`{"sub":"\ud800"}`,
		`{"sub":"\udbff"}`,
		`{"sub":"\udc00"}`,
		`{"sub":"\ud800x"}`,
		`{"sub":"\ud800\u0041"}`,
		`{"sub":"\ud800\\udc00"}`,
		"{\"sub\":\"a\xff\"}",
		"{\"sub\":\"a\xfe\"}",
		`{"groups":["\uDFFF"]}`,
	}
	for _, p := range refused {
		if _, err := parse(tok(p), DefaultMaxTokenSize); err == nil {
			t.Errorf("%q: parsed, want refused", p)
		}
	}
	accepted := []string{
		`{"sub":"\ud83d\ude00"}`,
		`{"sub":"😀 \u00e9 \\u d800 \\ud800"}`,
		`{"sub":"a\"b\\","n":1}`,
	}
	for _, p := range accepted {
		if _, err := parse(tok(p), DefaultMaxTokenSize); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
}
