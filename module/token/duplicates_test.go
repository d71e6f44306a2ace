package token

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signRaw signs the exact header and payload JSON texts with the RSA test
// key, so that tests can present JSON that no encoder would produce.
func signRaw(t testing.TB, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodRS256.Sign(input, getKeys().rsa)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

// payloadWith is a valid payload (baseClaims) with extra raw members
// appended inside the top-level object.
func payloadWith(extra string) string {
	return fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d,"iat":%d,"scope":"openid"%s}`,
		testIssuer, testAudience, testNow.Add(time.Hour).Unix(), testNow.Add(-time.Minute).Unix(), extra)
}

const rsaHeader = `{"alg":"RS256","kid":"rsa","typ":"JWT"}`

// TestSiblingDuplicateJSONMembersRefused: a signed token whose payload or
// header repeats a member name, at any depth, and also under case folding
// or JSON escapes, is refused: parsers disagree on which copy wins
// (encoding/json keeps the last, others the first or fail).
func TestSiblingDuplicateJSONMembersRefused(t *testing.T) {
	v := NewVerifier("p", testRules(), newKeySource())
	ok := signRaw(t, rsaHeader, payloadWith(`,"sub":"alice","org":{"role":"user"},"roles":[{"a":1},{"a":2}]`))
	if _, err := v.Verify(context.Background(), ok); err != nil {
		t.Fatalf("token without duplicates: %v", err)
	}
	for name, tc := range map[string]struct{ header, payload string }{
		"payload sub twice":        {rsaHeader, payloadWith(`,"sub":"alice","sub":"admin"`)},
		"payload aud twice":        {rsaHeader, payloadWith(`,"aud":"someone-else"`)},
		"payload escaped name":     {rsaHeader, payloadWith(`,"sub":"alice","s\u0075b":"admin"`)},
		"payload case-folded name": {rsaHeader, payloadWith(`,"sub":"alice","SUB":"admin"`)},
		"payload kelvin sign fold": {rsaHeader, payloadWith(`,"kid":"x","\u212aid":"y"`)},
		"payload nested twice":     {rsaHeader, payloadWith(`,"sub":"alice","org":{"role":"user","role":"admin"}`)},
		"payload in array twice":   {rsaHeader, payloadWith(`,"sub":"alice","roles":[{"a":1,"a":2}]`)},
		"payload deep twice":       {rsaHeader, payloadWith(`,"sub":"alice","a":{"b":[{"c":{"d":1,"d":2}}]}`)},
		"header alg twice":         {`{"alg":"none","alg":"RS256","kid":"rsa"}`, payloadWith(`,"sub":"alice"`)},
		"header kid twice":         {`{"alg":"RS256","kid":"other","kid":"rsa"}`, payloadWith(`,"sub":"alice"`)},
		"header typ twice":         {`{"alg":"RS256","kid":"rsa","typ":"logout+jwt","typ":"JWT"}`, payloadWith(`,"sub":"alice"`)},
		"header nested twice":      {`{"alg":"RS256","kid":"rsa","x":{"y":1,"y":2}}`, payloadWith(`,"sub":"alice"`)},
	} {
		t.Run(name, func(t *testing.T) {
			raw := signRaw(t, tc.header, tc.payload)
			_, err := v.Verify(context.Background(), raw)
			part := "payload"
			if tc.header != rsaHeader {
				part = "header"
			}
			wantErr(t, err, Invalid, "malformed token: "+part+" has a duplicate member name")
		})
	}
}

func TestDuplicateMemberScanner(t *testing.T) {
	for in, want := range map[string]bool{
		`{}`:                              false,
		`{"a":1,"b":{"a":1}}`:             false,
		`{"a":[1,{"a":2},{"a":3}]}`:       false,
		`{"a":{"b":1},"c":{"b":2}}`:       false,
		`{"x":[{"a":1},{"a":1}]}`:         false,
		`{"a":1,"a":1}`:                   true,
		`{"a":{},"b":[],"a":null}`:        true,
		`{"a":[{"x":1,"x":2}]}`:           true,
		`{"A":1,"a":2}`:                   true,
		`{"\u017fub":1,"sub":2}`:          true, // long s folds to s as encoding/json matches it
		`{"a":"a","b":"a","c":"a"}`:       false,
		`{"a":{"a":{"a":{"a":1}}}}`:       false,
		`{"a":{"a":{"a":{"a":1}}},"a":0}`: true,
	} {
		if _, err := decodeStrict([]byte(in)); (err != nil) != want {
			t.Errorf("decodeStrict(%s) refused = %v, want %v", in, err != nil, want)
		}
	}
}
