package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EmailClaim is the claim that rules on e-mail addresses read (OpenID
// Connect Core §5.1), and EmailVerifiedClaim the one that says whether the
// provider verified it.
const (
	EmailClaim         = "email"
	EmailVerifiedClaim = "email_verified"
)

// EmailPattern is a compiled pattern for e-mail addresses: a Pattern for the
// local part and one for the domain, split at the pattern's only `@`, both
// compared with ASCII letters case-insensitive (see CompileEmailPattern).
type EmailPattern struct {
	text          string
	local, domain Pattern
}

// CompileEmailPattern compiles an e-mail pattern such as `*@example.com`,
// `*@*.example.com` or `alice@example.com`. The pattern must hold exactly one
// `@` with a non-empty local part and domain on either side. The local part
// is a Pattern; the domain is `*`, a domain name, or `*.` and a domain name
// (see checkDomainPattern). Matching splits the address at its own `@` and matches each side
// separately, so no wildcard can reach across the `@`, and compares ASCII
// letters case-insensitively (the whole address: providers and mail systems
// treat `Alice@Example.COM` as `alice@example.com`). Non-ASCII characters
// compare byte for byte, with no Unicode case folding and no IDNA mapping.
func CompileEmailPattern(s string) (EmailPattern, error) {
	if s == "" {
		return EmailPattern{}, fmt.Errorf("an empty value never matches; write an e-mail pattern such as *@example.com")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return EmailPattern{}, fmt.Errorf("%s is not an e-mail pattern: it needs an @, e.g. *@%s for every address at that domain", quoteValue(s), s)
	}
	if strings.Contains(domain, "@") {
		return EmailPattern{}, fmt.Errorf("%s has more than one @; an e-mail pattern is <local part>@<domain>, e.g. *@example.com", quoteValue(s))
	}
	if local == "" || domain == "" {
		return EmailPattern{}, fmt.Errorf("%s needs a local part and a domain around the @, e.g. *@example.com", quoteValue(s))
	}
	if strings.HasSuffix(domain, ".") {
		return EmailPattern{}, fmt.Errorf("%s: the domain ends with a dot, which no accepted address has; write it without the dot", quoteValue(s))
	}
	lp, err := compilePattern(local, true)
	if err != nil {
		return EmailPattern{}, err
	}
	if err := checkDomainPattern(domain); err != nil {
		return EmailPattern{}, fmt.Errorf("%s: %v", quoteValue(s), err)
	}
	dp, err := compilePattern(domain, true)
	if err != nil {
		return EmailPattern{}, err
	}
	return EmailPattern{text: s, local: lp, domain: dp}, nil
}

// checkDomainPattern allows three forms of domain in an e-mail pattern: `*`
// (any domain), a domain name, and `*.` followed by a domain name (its
// subdomains, at any depth). A wildcard anywhere else would reach into names
// the operator does not own: `*example.com` also matches evilexample.com,
// and `example.*` matches example.co.evil.net.
func checkDomainPattern(domain string) error {
	if domain == "*" {
		return nil
	}
	name := strings.TrimPrefix(domain, "*.")
	if strings.ContainsAny(name, "*?") {
		return fmt.Errorf("the domain may be *, a domain name, or *. followed by a domain name (its subdomains); a wildcard elsewhere would also match domains you do not own (*example.com matches evilexample.com): write e.g. *@example.com *@*.example.com")
	}
	if !validDomain(name) {
		return fmt.Errorf("%s is not a domain name (labels of letters, digits and hyphens separated by single dots)", quoteValue(name))
	}
	return nil
}

// String returns the pattern as configured.
func (p EmailPattern) String() string { return p.text }

// Match reports whether the address matches the pattern. addr must already
// be a well-formed address as Email returns it; anything else never matches.
func (p EmailPattern) Match(addr string) bool {
	local, domain, ok := splitEmail(addr)
	return ok && p.local.Match(local) && p.domain.Match(domain)
}

// Email returns the caller's e-mail address from the `email` claim when it
// is one well-formed address: a single string (an array is refused, since
// `email_verified` could not say which element was verified) with exactly
// one `@`, a local part without whitespace, control or invisible format
// characters, and a domain of non-empty dot-separated labels of letters,
// digits and hyphens (non-ASCII letters allowed), without a trailing dot.
// The string is returned raw, as the token carries it.
func Email(claims map[string]any) (string, bool) {
	s, ok := claims[EmailClaim].(string)
	if !ok {
		return "", false
	}
	if _, _, ok := splitEmail(s); !ok {
		return "", false
	}
	return s, true
}

// EmailVerified reports whether the provider says it verified the address:
// the `email_verified` claim is the boolean true, or the string "true" that
// some providers send (Amazon Cognito's userinfo, for one). Absent, false,
// any other string or type is not verified.
func EmailVerified(claims map[string]any) bool {
	switch v := claims[EmailVerifiedClaim].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// splitEmail splits a well-formed address (see Email) into local part and
// domain.
func splitEmail(s string) (local, domain string, ok bool) {
	local, domain, found := strings.Cut(s, "@")
	if !found || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", "", false
	}
	if !validLocal(local) || !validDomain(domain) {
		return "", "", false
	}
	return local, domain, true
}

// validLocal reports whether the local part has only visible characters: no
// control, whitespace, invisible format character (zero-width space,
// direction overrides …) or invalid UTF-8.
func validLocal(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
		i += size
	}
	return true
}

// validDomain reports whether s is dot-separated non-empty labels of ASCII
// letters, digits and hyphens, or non-ASCII letters, digits and combining
// marks (internationalized names as the provider writes them).
func validDomain(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); {
			c := label[i]
			if c < utf8.RuneSelf {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
					return false
				}
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(label[i:])
			if r == utf8.RuneError && size == 1 {
				return false
			}
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
				return false
			}
			i += size
		}
	}
	return true
}
