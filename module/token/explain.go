package token

import (
	"context"
	"fmt"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Check is the outcome of one verification rule, for `caddy edgeauth
// explain`. Detail is fixed text or a configured value; like
// Error.Description it never holds the token or a claim value.
type Check struct {
	// Name is the rule: size, format, iss (selection), alg, typ, key,
	// signature, exp, iss, aud, nbf, iat, max_token_age, events or sub.
	Name string
	// OK reports whether the token passes it.
	OK bool
	// Skipped reports that the rule could not be applied because an
	// earlier one failed (OK is then false).
	Skipped bool
	// Detail says why it failed, or what it checked.
	Detail string
}

// Explanation is the verdict on one token with every rule's outcome.
type Explanation struct {
	// Provider is the configured provider whose verifier judged the token
	// ("" when none was selected).
	Provider string
	// Checks are the rules in the order Verify applies them.
	Checks []Check
	// Claims are the token's claims as it states them, verified or not
	// (nil when the payload could not be decoded). Print them only
	// through identity.ClaimValue, which sanitizes.
	Claims map[string]any
	// Identity is the verified caller; nil when the token is refused.
	Identity *identity.Identity
	// Err is Verify's own answer (*Error); nil when the token is accepted.
	Err error
}

// Explain verifies raw exactly as Verify does and, besides the verdict,
// runs every rule it can on its own so that all failures show, not only
// the first. The verdict is Verify's.
func (s *Selector) Explain(ctx context.Context, raw string) Explanation {
	var out Explanation
	p, e := parse(raw, s.maxSize)
	if e != nil {
		out.Checks = append(out.Checks, sizeCheck(raw, s.maxSize), Check{Name: "format", Detail: e.Description})
		out.Err = e
		return out
	}
	out.Claims = p.claims
	out.Checks = append(out.Checks, sizeCheck(raw, s.maxSize), Check{Name: "format", OK: true, Detail: "three base64url parts, JSON objects without duplicate member names"})
	iss, present := p.claims["iss"]
	name, _ := iss.(string)
	v := s.byIssuer[name]
	switch {
	case !present:
		out.Checks = append(out.Checks, Check{Name: "provider", Detail: "token has no iss claim"})
	case v == nil:
		out.Checks = append(out.Checks, Check{Name: "provider", Detail: fmt.Sprintf("no provider of this route has the token's issuer (trusted: %v)", s.issuers())})
	default:
		out.Provider = v.provider
		out.Checks = append(out.Checks, Check{Name: "provider", OK: true, Detail: "issuer " + name + " is provider " + v.provider})
		out.Checks = append(out.Checks, v.explainParsed(ctx, raw, p)...)
	}
	out.Identity, out.Err = s.Verify(ctx, raw)
	return out
}

// issuers lists the selector's issuers.
func (s *Selector) issuers() []string {
	out := make([]string, 0, len(s.byIssuer))
	for iss := range s.byIssuer {
		out = append(out, iss)
	}
	return out
}

func sizeCheck(raw string, maxSize int) Check {
	if len(raw) > maxSize {
		return Check{Name: "size", Detail: fmt.Sprintf("%d bytes, at most %d are accepted", len(raw), maxSize)}
	}
	return Check{Name: "size", OK: true, Detail: fmt.Sprintf("%d bytes (at most %d)", len(raw), maxSize)}
}

// explainParsed runs the rules of verifyParsed one by one, continuing
// past failures where a later rule does not depend on an earlier one.
func (v *Verifier) explainParsed(ctx context.Context, raw string, p *parsed) []Check {
	var out []Check
	add := func(name string, e *Error, ok string) {
		if e != nil {
			out = append(out, Check{Name: name, Detail: e.Description})
		} else {
			out = append(out, Check{Name: name, OK: true, Detail: ok})
		}
	}
	if len(raw) > v.rules.MaxTokenSize {
		add("size", invalid(CodeTooLarge, fmt.Sprintf("%d bytes, this provider accepts at most %d", len(raw), v.rules.MaxTokenSize)), "")
	}
	method, algOK := v.allowed[p.alg]
	if algOK {
		add("alg", nil, p.alg+" is allowed")
	} else {
		desc := "algorithm not allowed"
		if name := safeName(p.alg); name != "" {
			desc = "algorithm " + name + " not allowed"
		}
		add("alg", invalid(CodeAlgorithmNotAllowed, fmt.Sprintf("%s (allowed: %v)", desc, v.rules.Algorithms)), "")
	}
	add("typ", v.checkType(p), typeDetail(p))
	if !algOK {
		out = append(out, Check{Name: "key", Skipped: true, Detail: "needs an allowed algorithm"},
			Check{Name: "signature", Skipped: true, Detail: "needs an allowed algorithm"})
	} else {
		candidates, e := v.candidates(ctx, p, nil)
		if e != nil {
			add("key", e, "")
			out = append(out, Check{Name: "signature", Skipped: true, Detail: "needs a signing key"})
		} else {
			add("key", nil, keyDetail(p, len(candidates)))
			sigOK := false
			for _, k := range candidates {
				if method.Verify(p.signingInput, p.sig, k.Public) == nil {
					sigOK = true
					break
				}
			}
			if sigOK {
				add("signature", nil, "verified with the provider's current key")
			} else {
				add("signature", invalid(CodeBadSignature, "invalid signature: not made by the provider's current keys"), "")
			}
		}
	}
	now := v.now()
	for _, c := range claimChecks {
		e := c.run(v, p.claims, now)
		if e != nil && c.name == "exp" {
			if exp, ok, _ := timeClaim(p.claims, "exp"); ok {
				e = invalid(e.Code, fmt.Sprintf("%s: at %s, %s ago (clock skew %s)", e.Description, exp.UTC().Format(time.RFC3339), now.Sub(exp).Round(time.Second), v.rules.ClockSkew))
			}
		}
		add(c.name, e, claimDetail(v, c.name, p.claims, now))
	}
	if _, isEvent := p.claims["events"]; isEvent && !v.rules.EventTokens {
		add("events", invalid(CodeWrongType, "token is a security event token (events claim), not an access or ID token"), "")
	} else {
		add("events", nil, "no events claim")
	}
	if sub, present := p.claims["sub"]; present {
		if _, ok := sub.(string); !ok {
			add("sub", invalid(CodeInvalidClaim, "invalid sub claim"), "")
		} else {
			add("sub", nil, "a string")
		}
	} else {
		add("sub", nil, "absent (the identity has no subject)")
	}
	return out
}

// printable returns s without control bytes, cut to 64 bytes, for a value
// such as a key ID that is neither secret nor trusted.
func printable(s string) string {
	s = identity.Sanitize(s)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

// quoteSafe returns s when safeName allows it, else a placeholder.
func quoteSafe(s string) string {
	if n := safeName(s); n != "" {
		return n
	}
	return "(not printable)"
}

func typeDetail(p *parsed) string {
	if !p.hasTyp {
		return "no typ header, accepted"
	}
	n, _ := NormalizeType(p.typ)
	return quoteSafe(n) + " is accepted"
}

func keyDetail(p *parsed, n int) string {
	if p.kid != "" {
		return "kid " + printable(p.kid) + " is a current key"
	}
	return fmt.Sprintf("no kid; %d current key(s) fit %s", n, p.alg)
}

// claimDetail says what a passing claim rule checked, from the
// configuration only.
func claimDetail(v *Verifier, name string, claims map[string]any, now time.Time) string {
	switch name {
	case "exp":
		exp, _, _ := timeClaim(claims, "exp")
		return fmt.Sprintf("not expired: expires %s, in %s (clock skew %s)", exp.UTC().Format(time.RFC3339), exp.Sub(now).Round(time.Second), v.rules.ClockSkew)
	case "iss":
		return "equals " + v.TokenIssuer()
	case "aud":
		return fmt.Sprintf("names one of %v", v.rules.Audiences)
	case "nbf":
		if _, ok, _ := timeClaim(claims, "nbf"); ok {
			return "reached"
		}
		return "absent"
	case "iat":
		if iat, ok, _ := timeClaim(claims, "iat"); ok {
			return fmt.Sprintf("issued %s, %s ago", iat.UTC().Format(time.RFC3339), now.Sub(iat).Round(time.Second))
		}
		return "absent"
	case "max_token_age":
		if v.rules.MaxTokenAge <= 0 {
			return "no max_token_age configured"
		}
		return fmt.Sprintf("issued at most %s ago", v.rules.MaxTokenAge)
	}
	return ""
}
