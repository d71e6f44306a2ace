package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that no input makes verification panic, that only
// correctly signed tokens pass, and that failures are *Error values.
func FuzzVerify(f *testing.F) {
	k := getKeys()
	valid := sign(f, jwt.SigningMethodRS256, k.rsa, "rsa", baseClaims(), nil)
	es := sign(f, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	ed := sign(f, jwt.SigningMethodEdDSA, k.ed, "", baseClaims(), nil)
	parts := strings.Split(valid, ".")
	for _, s := range []string{
		valid, es, ed,
		"", ".", "..", "...", "a.b.c", valid + ".",
		parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIn0.e30.",
		"eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
		"e30.e30.e30",
		"bnVsbA.bnVsbA.bnVsbA",
		"W10.W10.W10",
		parts[0] + ".eyJleHAiOjFlOTk5OTl9." + parts[2],
		parts[0] + ".eyJleHAiOiIxIiwiYXVkIjpbbnVsbF19." + parts[2],
		strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + "." + strings.Repeat("C", 100),
	} {
		f.Add(s)
	}
	rules := testRules()
	rules.Algorithms = SupportedAlgorithms
	v := NewVerifier("p", rules, newKeySource())
	s := NewSelector(v)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, verify := range []func(context.Context, string) (any, error){
			func(ctx context.Context, r string) (any, error) { return v.Verify(ctx, r) },
			func(ctx context.Context, r string) (any, error) { return s.Verify(ctx, r) },
		} {
			id, err := verify(context.Background(), raw)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %v is %T, want *Error", err, err)
				}
				continue
			}
			if id == nil {
				t.Fatal("nil identity without error")
			}
		}
	})
}

// FuzzDecodeStrict checks the strict decoder against encoding/json: it
// never panics, accepts only what encoding/json accepts as one object, and
// when it accepts, both decode the same value (so a refused duplicate is
// the only difference).
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"sub":"a","SUB":"b"}`, `{"s\u0075b":1,"sub":2}`,
		`{"\u017fub":1,"sub":2}`, `{"\u212a":1,"k":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":2}]}`,
		`{"a":[1,"x",true,null,{"c":[]}]}`, `{"a":1} {"a":1}`, `{"a":1}x`, `[1]`, `null`, `"x"`,
		`{"a":1e999}`, `{"a":-0.5e-3}`, `{"a":"\ud800"}`, `{"a`, `{"a":}`, `{,}`, `{"a":1,}`,
		`{"a":{"a":{"a":{"a":{}}}},"A":0}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeStrict(b)
		ref, ok := decodeReference(b)
		if err == nil {
			if !ok {
				t.Fatalf("strict decoder accepted what encoding/json refuses: %q", b)
			}
			if !reflect.DeepEqual(got, ref) {
				t.Fatalf("strict %v != encoding/json %v for %q", got, ref, b)
			}
		}
		if err != nil && !errors.Is(err, errDuplicateMember) && ok {
			t.Fatalf("strict decoder refused a valid object without duplicates: %v: %q", err, b)
		}
	})
}

// decodeReference is the plain encoding/json decode of one object.
func decodeReference(b []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return m, true
}
