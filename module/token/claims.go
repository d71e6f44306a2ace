package token

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
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
		return time.Time{}, true, invalid(CodeInvalidClaim, "invalid "+name+" claim")
	}
	return t, true, nil
}

// claimCheck is one named rule on a token's claims. checkClaims runs them
// in order and stops at the first failure; Explain runs them all.
type claimCheck struct {
	name string
	run  func(v *Verifier, claims map[string]any, now time.Time) *Error
}

// claimChecks are the time, issuer and audience rules, in the order Verify
// applies them.
var claimChecks = []claimCheck{
	{"exp", (*Verifier).checkExpiry},
	{"iss", (*Verifier).checkIssuer},
	{"aud", func(v *Verifier, claims map[string]any, _ time.Time) *Error { return v.checkAudience(claims) }},
	{"nbf", (*Verifier).checkNotBefore},
	{"iat", (*Verifier).checkIssuedAt},
	{"max_token_age", (*Verifier).checkMaxAge},
}

// checkClaims applies the time, issuer and audience rules and returns the
// moment the token stops being valid here: its exp, or earlier when
// max_token_age ends it first (iat + MaxTokenAge + ClockSkew, when Verify
// would start refusing it). Caches keyed on the
// token never answer past it, so a token verified just before it grew too
// old is not served from a cache after that.
func (v *Verifier) checkClaims(claims map[string]any) (time.Time, *Error) {
	now := v.now()
	for _, c := range claimChecks {
		if e := c.run(v, claims, now); e != nil {
			return time.Time{}, e
		}
	}
	exp, _, _ := timeClaim(claims, "exp") // checked by checkExpiry
	if v.rules.MaxTokenAge > 0 {
		iat, _, _ := timeClaim(claims, "iat") // required by checkMaxAge
		if tooOld := iat.Add(v.rules.MaxTokenAge + v.rules.ClockSkew); tooOld.Before(exp) {
			exp = tooOld
		}
	}
	return exp, nil
}

func (v *Verifier) checkExpiry(claims map[string]any, now time.Time) *Error {
	exp, ok, e := timeClaim(claims, "exp")
	if e != nil {
		return e
	}
	if !ok {
		return invalid(CodeMissingClaim, "token has no exp claim")
	}
	if !now.Before(exp.Add(v.rules.ClockSkew)) {
		return invalid(CodeExpired, "token expired")
	}
	return nil
}

func (v *Verifier) checkIssuer(claims map[string]any, _ time.Time) *Error {
	iss, ok := claims["iss"].(string)
	if _, present := claims["iss"]; !present {
		return invalid(CodeMissingClaim, "token has no iss claim")
	}
	if !ok || iss != v.TokenIssuer() {
		return invalid(CodeIssuerNotTrusted, "issuer not trusted")
	}
	return nil
}

func (v *Verifier) checkNotBefore(claims map[string]any, now time.Time) *Error {
	nbf, ok, e := timeClaim(claims, "nbf")
	if e != nil {
		return e
	}
	if ok && now.Add(v.rules.ClockSkew).Before(nbf) {
		return invalid(CodeNotYetValid, "token not yet valid")
	}
	return nil
}

func (v *Verifier) checkIssuedAt(claims map[string]any, now time.Time) *Error {
	iat, ok, e := timeClaim(claims, "iat")
	if e != nil {
		return e
	}
	if ok && now.Add(v.rules.ClockSkew).Before(iat) {
		return invalid(CodeIssuedInFuture, "token issued in the future")
	}
	return nil
}

func (v *Verifier) checkMaxAge(claims map[string]any, now time.Time) *Error {
	if v.rules.MaxTokenAge <= 0 {
		return nil
	}
	iat, ok, e := timeClaim(claims, "iat")
	if e != nil {
		return e
	}
	if !ok {
		return invalid(CodeMissingClaim, "token has no iat claim")
	}
	if now.Sub(iat) > v.rules.MaxTokenAge+v.rules.ClockSkew {
		return invalid(CodeTooOld, "token too old")
	}
	return nil
}

func (v *Verifier) checkAudience(claims map[string]any) *Error {
	raw, present := claims["aud"]
	if !present {
		return invalid(CodeMissingClaim, "token has no aud claim")
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
		return invalid(CodeInvalidClaim, "invalid aud claim")
	}
	return invalid(CodeAudienceNotAccepted, "audience not accepted")
}

// scopes collects granted scopes from `scope` and `scp`, each either a
// space-separated string (split as SplitScopes splits it) or an array of
// strings (each element one scope-token), without duplicates. Anything that
// is not a valid scope-token grants nothing. The result is allocated once,
// at the most scopes the claims could grant.
func scopes(claims map[string]any) []string {
	most := 0
	for _, name := range []string{"scope", "scp"} {
		switch val := claims[name].(type) {
		case string:
			most += strings.Count(val, " ") + 1
		case []any:
			most += len(val)
		}
	}
	if most == 0 {
		return nil
	}
	out := make([]string, 0, most)
	add := func(f string) {
		if ValidScope(f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, name := range []string{"scope", "scp"} {
		switch val := claims[name].(type) {
		case string:
			for f := range strings.SplitSeq(val, " ") {
				add(f)
			}
		case []any:
			for _, e := range val {
				if s, ok := e.(string); ok {
					add(s)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
