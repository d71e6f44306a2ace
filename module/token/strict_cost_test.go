package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// plainDecodeAllocs is what decoding one JSON object with encoding/json
// alone costs (Decoder, UseNumber, map[string]any): the floor any strict
// decoder built on it pays.
func plainDecodeAllocs(b []byte) float64 {
	return testing.AllocsPerRun(50, func() {
		if _, ok := decodeReference(b); !ok {
			panic("test JSON does not decode")
		}
	})
}

// TestStrictDecodeAllocatesOnlyValues: the one-pass decoder allocates for
// what it returns and nothing else: one copy of the text, at most two
// allocations per object (map) and per array (slice, boxed), one per
// string or number value (boxed; the bytes are shared with the text unless
// the string has escapes), and
// none per member name or for its own bookkeeping. encoding/json (with the
// duplicate scan the project used before) cost about three times as many
// for a typical payload; every new token pays this.
func TestStrictDecodeAllocatesOnlyValues(t *testing.T) {
	c := baseClaims()
	c["jti"], c["aid"], c["uid"], c["type"] = "id-1", "1000000000000000", "2000000000000002", "user"
	c["name"], c["upn"], c["email"] = "Alice Liddell", "alice@example.onaliyun.com", "alice@example.com"
	c["org"] = map[string]any{"role": "user", "groups": []string{"a", "b"}, "Dept": "R&D", "n": 1.5, "ok": true}
	parts := strings.Split(signRSA(t, c), ".")
	for i, part := range parts[:2] {
		b, err := b64.DecodeString(part)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeStrict(b)
		if err != nil {
			t.Fatal(err)
		}
		// A string with escapes needs its own bytes too.
		budget := 1 + valueAllocs(m) + strings.Count(string(b), `\`)
		plain := plainDecodeAllocs(b)
		strict := testing.AllocsPerRun(50, func() {
			if _, err := decodeStrict(b); err != nil {
				panic(err)
			}
		})
		t.Logf("part %d: encoding/json %.0f allocs, one-pass decoder %.0f (budget %d)", i, plain, strict, budget)
		if strict > float64(budget) {
			t.Errorf("part %d (%s): decodeStrict costs %.0f allocations, want at most %d", i, b, strict, budget)
		}
	}
}

// valueAllocs is the most allocations decoding v may need: what building
// each map costs (measured), two per array, one per string or number.
func valueAllocs(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := int(testing.AllocsPerRun(20, func() {
			m := make(map[string]any, len(v))
			for k := range v {
				m[k] = nil
			}
			mapSink = m
		}))
		for _, e := range v {
			n += valueAllocs(e)
		}
		return n
	case []any:
		n := 2
		for _, e := range v {
			n += valueAllocs(e)
		}
		return n
	case string, json.Number:
		return 1
	}
	return 0
}

// mapSink makes valueAllocs's maps escape, as decoded ones do.
var mapSink map[string]any

// TestHeaderDecodeDoesNotAllocate: reading a JOSE header's members (names
// in any case, nested objects and arrays checked for repeated names)
// allocates nothing once the text is a string, so alg, kid and typ cost
// no map and no boxing.
func TestHeaderDecodeDoesNotAllocate(t *testing.T) {
	s := `{"alg":"RS256","Kid":"k1","typ":"at+jwt","x":{"Team":{"id":1},"l":[{"a":1},{"a":2}]},"n":-1.5e3,"t":true,"z":null}`
	n := testing.AllocsPerRun(50, func() {
		d := getDecoder(s)
		hdr, err := d.header()
		if err != nil || len(hdr) != 7 || hdr[0].str != "RS256" {
			panic(fmt.Sprint(hdr, err))
		}
		d.release()
	})
	if n != 0 {
		t.Fatalf("decoding the header allocated %.0f times, want 0", n)
	}
}

// strictSeeds are inputs where a byte scanner could disagree with the
// tokenizer-based reference: names inside strings, escapes of quotes and
// backslashes, folding, replacement characters, nesting and big objects.
func strictSeeds() []string {
	seeds := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{ "a" : 1 , "a" : 2 }`, "{\n\t\"a\":1,\r\n\"a\":2}",
		`{"sub":"a","SUB":"b"}`, `{"Sub":"a","sUB":"b"}`, `{"s\u0075b":1,"sub":2}`, `{"\u0053ub":1,"sub":2}`,
		`{"\u017fub":1,"sub":2}`, "{\"\u017fub\":1,\"SUB\":2}", `{"\u212a":1,"k":2}`, "{\"\u212a\":1,\"K\":2}",
		"{\"\u03c2\":1,\"\u03c3\":2}", "{\"\u03a3\":1,\"\u03c2\":2}", "{\"\u01c5\":1,\"\u01c6\":2}", "{\"\u00df\":1,\"ss\":2}",
		"{\"\u0130\":1,\"i\":2}", "{\"\u0131\":1,\"I\":2}", "{\"\u00e9\":1,\"\u00c9\":2}", "{\"e\u0301\":1,\"\u00e9\":2}",
		`{"a\"":1,"a\"":2}`, `{"a\"":1,"a":2}`, `{"a\\":1,"a\\":2}`, `{"a\\":1,"a":2}`, `{"\\\"":1,"\\\"":2}`,
		`{"\/":1,"/":2}`, `{"\b\f\n\r\t":1,"\u0008\u000c\u000a\u000d\u0009":2}`, `{"":1,"":2}`, `{"":1," ":2}`,
		`{"a":"{\"a\":1,\"a\":2}"}`, `{"a":1,"b":"x,\"a\":"}`, `{"a:b":1,"a":2}`, `{"{":1,"}":2,"{":3}`,
		`{"[":1,"]":2}`, `{",":1,",":2}`, `{"a":"\\","a":"\\"}`, `{"a":"\\\"","b":"\"\\"}`,
		`{"a":[{"b":1},{"b":1}],"b":2}`, `{"a":[1,2],"a":3}`, `{"x":[{"a":1}],"a":1}`, `{"x":[{"a":1},{"a":1,"a":2}]}`,
		`{"a":{"b":1,"c":{"b":2}},"c":3}`, `{"a":{"b":1},"b":{"a":1},"c":[[[{"a":1}]]],"d":[[],{}]}`,
		`{"a":{"a":{"a":{"a":1}}},"a":0}`, `{"a":[{"a":[{"a":1,"A":2}]}]}`, `{"x":{},"y":[],"x":null}`,
		`{"a":1,"b":{"a":1}}`, `{"a":[1,{"a":2},{"a":3}]}`, `{"a":"a","b":"a","c":"a"}`,
		`{"a":-1.5e+10,"b":0,"c":1E-2}`, `{"a":1e999}`, `{"a":true,"b":false,"c":null}`,
		"{\"a\xff\":1,\"a\xfe\":2}", "{\"\xff\":1,\"\\ufffd\":2}", `{"\ud800":1,"\udbff":2}`, `{"\ud800":1,"\ufffd":2}`,
		`{"\ud83d\ude00":1,"😀":2}`, `{"\uD83D\uDE00":1,"\ud83d\ude00":2}`, `{"\ud800\u0041":1,"\ufffdA":2}`,
		"{\"sub\":\"\\ud800\"}", "{\"sub\":\"a\xff\"}", `{"sub":"\ud83d\ude00"}`,
		`{"a":1,"a":2,}`, `{"a":1,"a":2`, `{"a":1,"a":2}x`, `{"a":1}{"a":1}`, `{"a":1} {"a":1}`, `{"a"`,
		`{"a":}`, `{,}`, `{"a":1,}`, `[1]`, `null`, `"x"`, `1`, ``, `{"a":[}`, `{"a":1]`, `{"a" 1}`, `{a:1}`,
		`{"a":01}`, `{"a":"\x01"}`, "{\"a\":\"\x01\"}", `{"a":"\q"}`, `{"a":"\u12"}`, "\ufeff{}",
		`{"alg":"RS256","kid":"rsa","typ":"JWT"}`, `{"alg":"none","alg":"RS256"}`, `{"alg":"RS256","ALG":"none"}`,
		`{"iss":"https://idp.example.com","aud":"4000000000000000001","exp":1893502800,"iat":1893499140,"scope":"openid","sub":"alice","s\u0075b":"admin"}`,
	}
	// Objects past the size where the scanner stops comparing names one by
	// one, with a repeat (exact, case-folded, escaped) at the end or none.
	for _, n := range []int{15, 16, 17, 40} {
		var b strings.Builder
		b.WriteString(`{`)
		for i := range n {
			fmt.Fprintf(&b, `"m%d":%d,`, i, i)
		}
		base := b.String()
		seeds = append(seeds, base+`"end":0}`, base+`"m0":0}`, base+`"M0":0}`, base+`"\u006d1":0}`,
			base+`"x":{`+base[1:]+`"m3":1}}`, base+`"x":[{`+base[1:]+`"y":1}],"m2":1}`, base+`"\u212a":1,"k":2}`)
	}
	return seeds
}

// FuzzStrictMatchesReference holds decodeStrict to the tokenizer-based
// reference it replaced: it accepts exactly what the reference accepts,
// with the same value, and refuses a repeated name exactly when the
// reference does. The one difference allowed: a text encoding/json refuses
// anyway may be reported as not JSON where the reference, reading it as a
// stream, met a repeated name before the syntax error.
func FuzzStrictMatchesReference(f *testing.F) {
	for _, s := range strictSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkStrictMatchesReference(t, b)
	})
}

// TestStrictMatchesReferenceSeeds runs the differential check on the seeds
// in every ordinary test run.
func TestStrictMatchesReferenceSeeds(t *testing.T) {
	for _, s := range strictSeeds() {
		checkStrictMatchesReference(t, []byte(s))
	}
}

func checkStrictMatchesReference(t *testing.T, b []byte) {
	t.Helper()
	got, err := decodeStrict(b)
	ref, refErr := decodeStrictReference(b)
	switch {
	case refErr == nil && err != nil:
		t.Fatalf("decodeStrict refused what the reference accepts: %v: %q", err, b)
	case refErr != nil && err == nil:
		t.Fatalf("decodeStrict accepted what the reference refuses (%v): %q", refErr, b)
	case refErr == nil:
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("decodeStrict %v != reference %v for %q", got, ref, b)
		}
	case errors.Is(err, errDuplicateMember) && !errors.Is(refErr, errDuplicateMember):
		t.Fatalf("decodeStrict reports a repeated name, the reference %v: %q", refErr, b)
	case !errors.Is(err, errDuplicateMember) && errors.Is(refErr, errDuplicateMember):
		if _, ok := decodeReference(b); ok {
			t.Fatalf("decodeStrict reports %v for valid JSON where the reference finds a repeated name: %q", err, b)
		}
	}
}
