package token

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z; later or negative dates are
// refused as malformed.
const maxNumericDate = 253402300799

// NumericDate reads an RFC 7519 NumericDate claim value (json.Number
// seconds, possibly fractional, between 0 and 9999-12-31).
func NumericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// timeClaim returns a NumericDate claim: present reports whether it was
// there at all, err is set when it is there but not a valid date.
func timeClaim(claims map[string]any, name string) (t time.Time, present bool, err *Error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	t, ok = NumericDate(v)
	if !ok {
		return time.Time{}, true, invalid("invalid " + name + " claim")
	}
	return t, true, nil
}

// checkClaims applies the time, issuer and audience rules and returns the
// expiry.
func (v *Verifier) checkClaims(claims map[string]any) (time.Time, *Error) {
	now := v.now()
	skew := v.rules.ClockSkew

	exp, ok, e := timeClaim(claims, "exp")
	if e != nil {
		return time.Time{}, e
	}
	if !ok {
		return time.Time{}, invalid("token has no exp claim")
	}
	if !now.Before(exp.Add(skew)) {
		return time.Time{}, invalid("token expired")
	}

	iss, ok := claims["iss"].(string)
	if _, present := claims["iss"]; !present {
		return time.Time{}, invalid("token has no iss claim")
	}
	if !ok || iss != v.rules.Issuer {
		return time.Time{}, invalid("issuer not trusted")
	}

	if e := v.checkAudience(claims); e != nil {
		return time.Time{}, e
	}

	nbf, ok, e := timeClaim(claims, "nbf")
	if e != nil {
		return time.Time{}, e
	}
	if ok && now.Add(skew).Before(nbf) {
		return time.Time{}, invalid("token not yet valid")
	}

	iat, ok, e := timeClaim(claims, "iat")
	if e != nil {
		return time.Time{}, e
	}
	if ok && now.Add(skew).Before(iat) {
		return time.Time{}, invalid("token issued in the future")
	}
	if v.rules.MaxTokenAge > 0 {
		if !ok {
			return time.Time{}, invalid("token has no iat claim")
		}
		if now.Sub(iat) > v.rules.MaxTokenAge+skew {
			return time.Time{}, invalid("token too old")
		}
	}
	return exp, nil
}

func (v *Verifier) checkAudience(claims map[string]any) *Error {
	raw, present := claims["aud"]
	if !present {
		return invalid("token has no aud claim")
	}
	switch aud := raw.(type) {
	case string:
		if slices.Contains(v.rules.Audiences, aud) {
			return nil
		}
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok && slices.Contains(v.rules.Audiences, s) {
				return nil
			}
		}
	default:
		return invalid("invalid aud claim")
	}
	return invalid("audience not accepted")
}

// scopes collects granted scopes from `scope` and `scp`, each either a
// space-separated string (split by SplitScopes) or an array of strings (each
// element one scope-token), without duplicates. Anything that is not a valid
// scope-token grants nothing.
func scopes(claims map[string]any) []string {
	var out []string
	add := func(f string) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, name := range []string{"scope", "scp"} {
		switch val := claims[name].(type) {
		case string:
			for _, f := range SplitScopes(val) {
				add(f)
			}
		case []any:
			for _, e := range val {
				if s, ok := e.(string); ok && ValidScope(s) {
					add(s)
				}
			}
		}
	}
	return out
}
