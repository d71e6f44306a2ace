package identity

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxExponent bounds the exponent of a json.Number written in exponent
// notation: larger ones would expand into unreasonably long decimal strings
// and are not exported.
const maxExponent = 400

// LookupClaim finds the raw claim value at path. path is a claim name, or a
// dotted path read through nested objects: "org.role" is
// claims["org"]["role"]. Whenever the path's first name ("org") is a claim,
// the nested reading is the only one, so a top-level claim literally named
// "org.role" can never shadow the nested claim, whatever the order of the
// JSON members. Only when no claim has that first name is the whole path
// looked up as one top-level name, which keeps namespaced claims such as
// "https://example.com/roles" reachable. An empty name (a leading, trailing
// or doubled dot) finds nothing.
func LookupClaim(claims map[string]any, path string) (any, bool) {
	if claims == nil || path == "" {
		return nil, false
	}
	if first, _, dotted := strings.Cut(path, "."); dotted && first != "" {
		if _, ok := claims[first]; !ok {
			v, ok := claims[path]
			return v, ok
		}
	}
	return lookupNested(claims, path)
}

// lookupNested reads path through nested objects, every dot separating two
// member names.
func lookupNested(claims map[string]any, path string) (any, bool) {
	m := claims
	for {
		name, rest, nested := strings.Cut(path, ".")
		if name == "" {
			return nil, false
		}
		v, ok := m[name]
		if !ok || !nested {
			return v, ok
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
		path = rest
	}
}

// ValidClaimPath checks a configured claim path (claim rules,
// role_from_claim): a name, or names joined by single dots. A path with an
// empty name (a leading, trailing or doubled dot) would never match, so it is
// refused when the configuration loads.
func ValidClaimPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty claim name")
	}
	for name := range strings.SplitSeq(path, ".") {
		if name == "" {
			return fmt.Errorf("claim path %q has an empty name; a dot separates nested claims (org.role is member role of claim org)", path)
		}
	}
	return nil
}

// ClaimValue returns the claim at path (see LookupClaim) as an already
// sanitized header value:
//
//   - strings as they are;
//   - numbers in plain decimal, never in exponent notation (a json.Number
//     that is an integer or a plain decimal keeps its literal text, so big
//     integers lose no digits);
//   - booleans as "true" or "false";
//   - arrays of scalars joined by one space (null and empty elements are
//     skipped).
//
// Objects, arrays holding objects or arrays, null, absent and empty values
// give ("", false).
func ClaimValue(claims map[string]any, path string) (string, bool) {
	v, ok := LookupClaim(claims, path)
	if !ok {
		return "", false
	}
	switch a := v.(type) {
	case []any:
		return joinScalars(len(a), func(i int) any { return a[i] })
	case []string:
		return joinScalars(len(a), func(i int) any { return a[i] })
	}
	return scalarString(v)
}

// ClaimHas reports whether the claim at path, or one element of it when it
// is an array of scalars, equals one of want exactly. It compares the raw
// claim, never its sanitized header form: "acc\tount" or "account\r\n" does
// not equal "account". Strings compare byte for byte; numbers in plain
// decimal; booleans as "true" or "false". Empty strings, null, objects and
// arrays holding objects or arrays match nothing.
func ClaimHas(claims map[string]any, path string, want ...string) bool {
	return claimSatisfies(claims, path, func(s string) bool { return slices.Contains(want, s) })
}

// claimSatisfies reports whether the raw claim at path, or one element of
// it when it is an array of scalars, satisfies ok (ClaimHas, ClaimMatches).
// Empty strings, null, objects, and arrays holding objects or arrays (the
// whole claim, as ClaimValues refuses it) satisfy nothing.
func claimSatisfies(claims map[string]any, path string, ok func(string) bool) bool {
	v, found := LookupClaim(claims, path)
	if !found {
		return false
	}
	var n int
	var at func(int) any
	switch a := v.(type) {
	case []any:
		n, at = len(a), func(i int) any { return a[i] }
	case []string:
		n, at = len(a), func(i int) any { return a[i] }
	default:
		s, scalar := rawScalar(v)
		return scalar && ok(s)
	}
	satisfied := false
	for i := 0; i < n; i++ {
		e := at(i)
		if isContainer(e) {
			return false
		}
		if s, scalar := rawScalar(e); scalar && !satisfied && ok(s) {
			satisfied = true
		}
	}
	return satisfied
}

// joinScalars joins the n elements given by at with one space.
func joinScalars(n int, at func(int) any) (string, bool) {
	if n == 1 {
		if e := at(0); !isContainer(e) {
			return scalarString(e)
		}
		return "", false
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		e := at(i)
		if isContainer(e) {
			return "", false
		}
		s, ok := scalarString(e)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// isContainer reports whether v is an object or an array.
func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any, []string, map[string]string:
		return true
	}
	return false
}

// scalarString formats a scalar claim as a header value; false for
// containers, null, empty strings, numbers that cannot be written in plain
// decimal, and strings that hold control characters or invalid UTF-8.
// Such a string is not exported rather than sanitized: with its control
// bytes dropped it could read as another caller's value ("bob\x00" as
// "bob"), and the upstream compares what it receives.
func scalarString(v any) (string, bool) {
	s, ok := rawScalar(v)
	if !ok || !Clean(s) {
		return "", false
	}
	return s, true
}

// rawScalar formats a scalar claim without sanitizing it: strings as they
// are, numbers in plain decimal, booleans as "true" or "false". It gives
// false for containers, null, empty strings and numbers that cannot be
// written in plain decimal.
func rawScalar(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		var ok bool
		if s, ok = plainNumber(string(x)); !ok {
			return "", false
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", false
		}
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", false
		}
		s = strconv.FormatFloat(f, 'f', -1, 32)
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int32:
		s = strconv.FormatInt(int64(x), 10)
	case uint:
		s = strconv.FormatUint(uint64(x), 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case uint32:
		s = strconv.FormatUint(uint64(x), 10)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return "", false
	}
	return s, s != ""
}

// plainNumber returns the JSON number literal n in plain decimal notation.
// An integer or plain decimal literal is returned unchanged; one in exponent
// notation is rewritten exactly (by moving the decimal point, not through a
// float). It gives false when n is not a JSON number or its exponent is
// beyond maxExponent.
func plainNumber(n string) (string, bool) {
	neg := false
	s := n
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	intEnd := digitsEnd(s, 0)
	if intEnd == 0 {
		return "", false
	}
	fracStart, fracEnd := intEnd, intEnd
	if fracStart < len(s) && s[fracStart] == '.' {
		fracStart++
		fracEnd = digitsEnd(s, fracStart)
		if fracEnd == fracStart {
			return "", false
		}
	}
	if fracEnd == len(s) {
		return n, true // integer or plain decimal: keep the literal text
	}
	if s[fracEnd] != 'e' && s[fracEnd] != 'E' {
		return "", false
	}
	// strconv.Atoi accepts exactly JSON's optional sign and digits here.
	exp, err := strconv.Atoi(s[fracEnd+1:])
	if err != nil || exp > maxExponent || exp < -maxExponent {
		return "", false
	}

	digits := s[:intEnd] + s[fracStart:fracEnd]
	point := intEnd + exp // position of the decimal point within digits
	var intPart, fracPart string
	switch {
	case point <= 0:
		intPart, fracPart = "0", strings.Repeat("0", -point)+digits
	case point >= len(digits):
		intPart = digits + strings.Repeat("0", point-len(digits))
	default:
		intPart, fracPart = digits[:point], digits[point:]
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	fracPart = strings.TrimRight(fracPart, "0")
	out := intPart
	if fracPart != "" {
		out += "." + fracPart
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out, true
}

// digitsEnd returns the index of the first non-digit in s at or after i.
func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
