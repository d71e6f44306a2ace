package assertion

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"
)

// referenceDuplicates is a slow, obviously correct duplicate finder: it
// walks the decoder's tokens and compares names under full Unicode case
// folding (unicode.SimpleFold orbits). It assumes valid JSON.
func referenceDuplicates(b []byte) (dup, deep bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	type obj struct {
		names  []string
		object bool
	}
	var stack []*obj
	expectName := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false, false
		}
		if err != nil {
			return false, false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &obj{object: tok == json.Delim('{')})
			if len(stack) > maxDepth {
				return false, true
			}
			expectName = tok == json.Delim('{')
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if s, ok := tok.(string); ok && expectName && len(stack) > 0 && stack[len(stack)-1].object {
				for _, earlier := range stack[len(stack)-1].names {
					if foldEqual(earlier, s) {
						return true, false
					}
				}
				stack[len(stack)-1].names = append(stack[len(stack)-1].names, s)
				expectName = false
				continue
			}
		}
		expectName = len(stack) > 0 && stack[len(stack)-1].object
	}
}

// foldEqual is strings.EqualFold spelled out with SimpleFold orbits.
func foldEqual(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if ra[i] == rb[i] {
			continue
		}
		same := false
		for f := unicode.SimpleFold(ra[i]); f != ra[i]; f = unicode.SimpleFold(f) {
			if f == rb[i] {
				same = true
				break
			}
		}
		if !same {
			return false
		}
	}
	return true
}

// TestScanNames compares the fast scan with the reference on hand-made
// cases (FuzzDecodeObject does the same on generated ones).
func TestScanNames(t *testing.T) {
	cases := map[string]bool{
		`{}`:                                     false,
		`{"a":1,"b":{"a":2},"c":[{"a":3}]}`:      false,
		`{"a":1,"a":2}`:                          true,
		`{"a":1,"A":2}`:                          true,
		`{"sub":1,"s\u0075b":2}`:                 true,
		`{"\u212a":1,"k":2}`:                     true,
		`{"\u017f":1,"S":2}`:                     true,
		`{"é":1,"É":2}`:                          true,
		`{"x":{"y":[1,{"z":1,"Z":2}]}}`:          true,
		`{"a":"\"a\":","b":"{\"a\":1,\"a\":2}"}`: false,
		`{"a,":1,"a":2}`:                         false,
	}
	var large strings.Builder
	large.WriteString(`{`)
	for i := 0; i < 40; i++ {
		if i > 0 {
			large.WriteString(",")
		}
		large.WriteString(`"n` + strings.Repeat("x", i) + `":1`)
	}
	cases[large.String()+`}`] = false
	cases[large.String()+`,"N":2,"nXXX":3}`] = true
	for in, want := range cases {
		got := errors.Is(scanNames([]byte(in)), errDuplicate)
		ref, _ := referenceDuplicates([]byte(in))
		if got != want || ref != want {
			t.Errorf("%s: scan %v, reference %v, want %v", in, got, ref, want)
		}
	}
	if err := scanNames([]byte(`{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`)); !errors.Is(err, errTooDeep) {
		t.Errorf("depth %d+1: %v", maxDepth, err)
	}
	if err := scanNames([]byte(`{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`)); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
}

// TestDecodeObjectAllocations: a gateway-shaped claim set with plain names
// costs no allocation in the duplicate scan.
func TestDecodeObjectAllocations(t *testing.T) {
	b, _ := json.Marshal(claimsAt("https://gw.example.com", newClock().now()))
	if n := testing.AllocsPerRun(50, func() {
		if scanNames(b) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("scanNames allocates %.0f times", n)
	}
}
