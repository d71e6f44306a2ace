package policy

import (
	"fmt"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Detail codes of a claim rule's denial (Decision.Detail), for the decision
// log: why the caller's claim did not satisfy the rule.
const (
	// DetailEmailUnverified: the e-mail address matched, but the provider
	// did not say it verified it (`email_verified` absent or false).
	DetailEmailUnverified = "email_unverified"
	// DetailEmailMalformed: the `email` claim is not one well-formed address
	// (an array, two @, whitespace, control characters, a trailing dot …).
	DetailEmailMalformed = "email_malformed"
)

// claimMatcher is a compiled ClaimRule.
type claimMatcher struct {
	email    bool // an e-mail rule
	verified bool // e-mail rule: email_verified must be true
	pats     []identity.Pattern
	emails   []identity.EmailPattern
}

// compileClaimRule checks r's claim path, values and options and compiles
// them. Errors start with the claim and name the fix, not the rule's paths.
func compileClaimRule(r ClaimRule) (*claimMatcher, error) {
	if r.Claim == "" {
		return nil, fmt.Errorf("a claim name is needed, e.g. claim /billing/* type account")
	}
	if err := identity.ValidClaimPath(r.Claim); err != nil {
		return nil, fmt.Errorf("%s: %v", r.Claim, err)
	}
	if len(r.Values) == 0 {
		return nil, fmt.Errorf("%s: needs at least one value the claim may have", r.Claim)
	}
	m := &claimMatcher{email: r.Claim == identity.EmailClaim, verified: !r.AllowUnverifiedEmail}
	if r.AllowUnverifiedEmail && !m.email {
		return nil, fmt.Errorf("%s: allow_unverified_email applies only to rules on the email claim; remove it", r.Claim)
	}
	for _, v := range r.Values {
		if m.email {
			p, err := identity.CompileEmailPattern(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", r.Claim, err)
			}
			m.emails = append(m.emails, p)
			continue
		}
		p, err := identity.CompilePattern(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r.Claim, err)
		}
		m.pats = append(m.pats, p)
	}
	return m, nil
}

// CheckClaimRule reports whether r's claim, values and options are valid,
// with the error New would give (without the rule's paths), so that the
// Caddyfile parser can refuse a rule at the line that wrote it.
func CheckClaimRule(r ClaimRule) error {
	_, err := compileClaimRule(r)
	return err
}

// check reports whether claims satisfy the rule; when they do not, detail
// says why where more than "no value matched" is known.
func (m *claimMatcher) check(claims map[string]any, claim string) (ok bool, detail string) {
	if !m.email {
		return identity.ClaimMatches(claims, claim, m.pats), ""
	}
	addr, wellFormed := identity.Email(claims)
	if !wellFormed {
		if _, present := claims[identity.EmailClaim]; present {
			return false, DetailEmailMalformed
		}
		return false, ""
	}
	matched := false
	for i := range m.emails {
		if m.emails[i].Match(addr) {
			matched = true
			break
		}
	}
	if !matched {
		return false, ""
	}
	if m.verified && !identity.EmailVerified(claims) {
		return false, DetailEmailUnverified
	}
	return true, ""
}

// satisfied reports whether claims satisfy rule c (compiling it when it was
// built by hand; a rule that does not compile is never satisfied).
func (c *ClaimRule) satisfied(claims map[string]any) (bool, string) {
	m := c.match
	if m == nil {
		var err error
		if m, err = compileClaimRule(*c); err != nil {
			return false, ""
		}
	}
	return m.check(claims, c.Claim)
}

// denialReason is the log reason of a failed claim rule: it names the claim
// and the configured values, never the caller's claim.
func (c *ClaimRule) denialReason(detail string) string {
	reason := "claim " + c.Claim + " not in [" + strings.Join(c.Values, " ") + "]"
	if detail == DetailEmailUnverified {
		reason = "claim email matches [" + strings.Join(c.Values, " ") + "] but email_verified is not true"
	}
	return reason
}
