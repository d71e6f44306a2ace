package token

import (
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// stdlibSeeds are inputs where a one-pass decoder could part from
// encoding/json: number and literal grammar, whitespace, control bytes,
// every escape, surrogates, invalid UTF-8, nesting at and past
// encoding/json's depth limit, and the duplicate-name seeds.
func stdlibSeeds() []string {
	seeds := strictSeeds()
	seeds = append(seeds,
		`{"a":0}`, `{"a":-0}`, `{"a":-}`, `{"a":--1}`, `{"a":+1}`, `{"a":.5}`, `{"a":5.}`, `{"a":1.5e}`,
		`{"a":1e+}`, `{"a":1E-07}`, `{"a":-0.0e0}`, `{"a":00}`, `{"a":-01}`, `{"a":1.2.3}`, `{"a":0x10}`,
		`{"a":12345678901234567890123456789}`, `{"a":1e400,"b":-1e-400}`, `{"a":NaN}`, `{"a":Infinity}`,
		`{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":True}`, `{"a":[true,false,null]}`, `{"a":[,]}`,
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[]}`, `{"a":{}}`, `{"a":[[],[[]]]}`, "{\"a\":1}\x00", "\x00{}",
		"{\"a\"\x0b:1}", "{\f\"a\":1}", "{\"a\":1}\n\r\t ", " \n{\"a\":\"b\"}", `{"a":"\u0000"}`,
		`{"a":"\"\\\/\b\f\n\r\t"}`, `{"a":"\x"}`, `{"a":"\u00zz"}`, `{"a":"\uD834\uDD1E"}`, `{"a":"\uDD1E\uD834"}`,
		`{"a":"\uD834"}`, `{"a":"\uD834\u0041"}`, `{"a":"\uD834\\u"}`, `{"a":"\uD834\uD834\uDD1E"}`,
		`{"a":"\uD834\uDD1"}`, `{"a":"\uD834\n"}`, `{"a":"x\uD834"}`, "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xc3\xa9\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\x7f\"}",
		"{\"a\":\"\t\"}", "{\"\xc3\xa9\":1,\"\xc3\x89\":2}", "{\"a\xff\":1}", `{"a":"b"`, `{"a":"b`, `{"a`,
		`{"a":1,"b":2,"c":{"d":[1,{"e":"f"}]}}`, `{"aud":["a","b"],"aud2":[]}`,
	)
	// Nesting at encoding/json's limit of 10000 and one past it.
	for _, depth := range []int{maxNestingDepth, maxNestingDepth + 1} {
		seeds = append(seeds, strings.Repeat(`{"a":`, depth-1)+`{}`+strings.Repeat(`}`, depth-1))
		seeds = append(seeds, `{"a":`+strings.Repeat(`[`, depth-1)+strings.Repeat(`]`, depth-1)+`}`)
	}
	return seeds
}

// FuzzStrictMatchesStdlib holds the one-pass decoder to the encoding/json
// based strict decoder it replaced (decodeStrictStdlib): the same texts
// accepted, the same values (maps, slices, strings, json.Number, bool,
// nil), and a repeated name reported exactly when that decoder reports
// one.
func FuzzStrictMatchesStdlib(f *testing.F) {
	for _, s := range stdlibSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStrictMatchesStdlib(t, b)
	})
}

// TestStrictMatchesStdlibSeeds runs FuzzStrictMatchesStdlib's check on its
// seeds in every ordinary test run.
func TestStrictMatchesStdlibSeeds(t *testing.T) {
	for _, s := range stdlibSeeds() {
		checkStrictMatchesStdlib(t, []byte(s))
	}
}

func checkStrictMatchesStdlib(t *testing.T, b []byte) {
	t.Helper()
	got, err := decodeStrict(b)
	ref, refErr := decodeStrictStdlib(b)
	switch {
	case refErr == nil && err != nil:
		t.Fatalf("decodeStrict refused what the stdlib decoder accepts: %v: %.200q", err, b)
	case refErr != nil && err == nil:
		t.Fatalf("decodeStrict accepted what the stdlib decoder refuses (%v): %.200q", refErr, b)
	case refErr == nil:
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("decodeStrict %v != stdlib decoder %v for %.200q", got, ref, b)
		}
	case errors.Is(err, errDuplicateMember) != errors.Is(refErr, errDuplicateMember):
		t.Fatalf("decodeStrict error %v, stdlib decoder %v: %.200q", err, refErr, b)
	}
}

// headerSeeds are JOSE headers for FuzzParseMatchesStdlib.
var headerSeeds = []string{
	`{"alg":"RS256","kid":"rsa","typ":"JWT"}`, `{"alg":"RS256"}`, `{"alg":""}`, `{"alg":1}`, `{"alg":null}`,
	`{"kid":"rsa"}`, `{"alg":"RS256","kid":7}`, `{"alg":"RS256","typ":["JWT"]}`, `{"alg":"RS256","typ":""}`,
	`{"alg":"RS256","jwk":{}}`, `{"alg":"RS256","x5c":[],"jku":"u"}`, `{"x5u":"u","jwk":1,"alg":"RS256"}`,
	`{"alg":"RS256","crit":["b64"]}`, `{"crit":[],"jwk":{}}`, `{"alg":"none","alg":"RS256"}`, `{"ALG":"x","alg":"RS256"}`,
	`{"alg":"RS256","x":{"y":1,"y":2}}`, `{"alg":"RS256","JWK":{}}`, `{"alg":"RS\u0032256"}`, "{\"alg\":\"RS256\xff\"}",
	`{"alg":"\ud800"}`, `{"alg":"RS256","kid":"a\u0000b"}`, `{"alg":"RS256"} x`, `[]`, `null`, ``, `{"alg":"RS256",}`,
}

// payloadSeeds are claim sets for FuzzParseMatchesStdlib.
var payloadSeeds = []string{
	`{"iss":"https://idp.example.com","aud":["a","b"],"exp":1893502800,"iat":1.5e9,"sub":"alice","scope":"openid"}`,
	`{}`, `{"sub":"\ud800"}`, "{\"sub\":\"a\xff\"}", `{"sub":"a","s\u0075b":"b"}`, `{"org":{"r":1,"R":2}}`,
	`{"a":[{"b":1},{"b":2}]}`, `{"a":1e999}`, `[1]`, `null`, `{"a":1}{}`, `{"a":"\u0000\\"}`,
}

// FuzzParseMatchesStdlib holds the whole structural parse of a token
// (header and payload through the one-pass decoder) to the same parse on
// the encoding/json based decoder (parseStdlib): the same refusal with the
// same description, or the same alg, kid, typ, signature and claims.
func FuzzParseMatchesStdlib(f *testing.F) {
	for _, h := range headerSeeds {
		for _, p := range payloadSeeds {
			f.Add([]byte(h), []byte(p))
		}
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		checkParseMatchesStdlib(t, header, payload)
	})
}

// TestParseMatchesStdlibSeeds runs FuzzParseMatchesStdlib's check on its
// seeds in every ordinary test run.
func TestParseMatchesStdlibSeeds(t *testing.T) {
	for _, h := range headerSeeds {
		for _, p := range payloadSeeds {
			checkParseMatchesStdlib(t, []byte(h), []byte(p))
		}
	}
}

func checkParseMatchesStdlib(t *testing.T, header, payload []byte) {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	raw := enc(header) + "." + enc(payload) + "." + enc([]byte("signature"))
	got, e := parse(raw, DefaultMaxTokenSize)
	ref, refE := parseStdlib(raw, DefaultMaxTokenSize)
	switch {
	case (e == nil) != (refE == nil):
		t.Fatalf("parse: %v, stdlib parse: %v, for header %q payload %q", e, refE, header, payload)
	case e != nil:
		if e.Description != refE.Description {
			t.Fatalf("parse refuses with %q, stdlib parse with %q, for header %q payload %q", e.Description, refE.Description, header, payload)
		}
	case got.alg != ref.alg || got.kid != ref.kid || got.typ != ref.typ || got.hasTyp != ref.hasTyp ||
		got.signingInput != ref.signingInput || string(got.sig) != string(ref.sig) || !reflect.DeepEqual(got.claims, ref.claims):
		t.Fatalf("parse %+v != stdlib parse %+v for header %q payload %q", got, ref, header, payload)
	}
}
