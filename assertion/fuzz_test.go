package assertion

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// reasons are all errors Verify may wrap.
var reasons = []error{ErrMissing, ErrTooLarge, ErrMalformed, ErrType, ErrAlgorithm, ErrHeader,
	ErrUnknownKey, ErrKeysUnavailable, ErrSignature, ErrIssuer, ErrAudience, ErrMissingClaim,
	ErrInvalidClaim, ErrExpired, ErrNotYetValid, ErrLifetime}

// FuzzVerify feeds arbitrary strings to Verify with loaded keys: it must
// never panic, every refusal wraps one of the package's reasons, and an
// accepted assertion carries the configured issuer and audience and a
// subject.
func FuzzVerify(f *testing.F) {
	clk := newClock()
	keys := []testKey{newTestKey(f, "es", "ES256"), newTestKey(f, "ed", "EdDSA"), newTestKey(f, "rs", "RS256"), newTestKey(f, "ps", "PS256")}
	g := newGateway(f, keys...)
	v := newTestVerifier(f, g, clk)
	if err := v.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}
	for _, k := range keys {
		valid := sign(f, k, claimsAt(g.URL(), clk.now()))
		f.Add(valid)
		p := strings.Split(valid, ".")
		f.Add(p[0] + "." + p[1] + ".")
		f.Add(p[0] + ".." + p[2])
		f.Add(b64u([]byte(`{"alg":"none","typ":"JWT","kid":"es"}`)) + "." + p[1] + ".")
	}
	hdr := `{"alg":"ES256","kid":"es","typ":"JWT"}`
	f.Add(signRaw(f, keys[0], hdr, `{"sub":"a","sub":"b"}`))
	f.Add(signRaw(f, keys[0], hdr, `{"iss":1,"aud":[],"sub":"","iat":"x","exp":null}`))
	f.Add(signRaw(f, keys[0], hdr, `{"x":[[[[{"a":{"A":1,"a":2}}]]]]}`))
	f.Add(b64u([]byte(`{"alg":"ES256","kid":"es","typ":"JWT","typ":"x"}`)) + ".e30.AA")
	f.Add("")
	f.Add("...")
	f.Add("a.b.c")
	f.Add(strings.Repeat("A", 20000))
	f.Fuzz(func(t *testing.T, s string) {
		id, err := v.Verify(context.Background(), s)
		if err != nil {
			if id != nil {
				t.Fatal("identity with an error")
			}
			n := 0
			for _, r := range reasons {
				if errors.Is(err, r) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d reasons, want 1", err, n)
			}
			return
		}
		if id.Subject == "" || id.AssertionIssuer != g.URL() || id.Audience != testAudience || id.ExpiresAt.IsZero() {
			t.Fatalf("accepted identity %+v", id)
		}
	})
}

// FuzzDecodeObject checks the strict JSON reader against encoding/json:
// what it accepts is one JSON object in valid UTF-8 that encoding/json
// decodes too, with no two top-level names that encoding/json would match
// to the same field.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"A":2}`, `{"a":{"b":1,"b":2}}`, `{"s\u0075b":1,"sub":2}`,
		`{"\u212a":1,"k":2}`, `{"a":[1,{"b":[]}]}`, `{"a":1} {}`, `[1]`, `"x"`, `{"a":"\ud800"}`,
		"{\"a\":\"\xff\"}", `{"a":1,}`, `{` + strings.Repeat(`"a":{`, 40) + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeObject(b)
		if valid := json.Valid(b) && utf8.Valid(b) && len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] == '{'; valid {
			dup, deep := referenceDuplicates(b)
			if got := errors.Is(err, errDuplicate); got != dup && !deep {
				t.Fatalf("duplicate scan says %v, the reference %v", got, dup)
			}
			if !dup && !deep && err != nil {
				t.Fatalf("refused a valid object without duplicates: %v", err)
			}
		}
		if err != nil {
			if m != nil {
				t.Fatal("members with an error")
			}
			return
		}
		if !utf8.Valid(b) {
			t.Fatal("accepted invalid UTF-8")
		}
		var std map[string]any
		if err := json.Unmarshal(b, &std); err != nil || std == nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if len(std) != len(m) {
			t.Fatalf("%d members, encoding/json has %d", len(m), len(std))
		}
		names := make([]string, 0, len(m))
		for name := range m {
			for _, other := range names {
				if strings.EqualFold(name, other) {
					t.Fatalf("accepted names %q and %q", name, other)
				}
			}
			names = append(names, name)
		}
	})
}
