package sts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	roleARNRe     = regexp.MustCompile(`^acs:ram::[0-9]+:role/[A-Za-z0-9._-]{1,64}$`)
	providerARNRe = regexp.MustCompile(`^acs:ram::[0-9]+:oidc-provider/[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)
	awsRoleARNRe  = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\x21-\x7e]+/)*[\w+=,.@-]{1,64}$`)
)

// Limits for DurationSeconds and Policy.
const (
	MinDuration   = 900 * time.Second
	MaxDuration   = 43200 * time.Second
	MaxPolicySize = 2048
)

// ValidateRoleARN checks an Alibaba Cloud RAM role ARN
// (acs:ram::<account-id>:role/<role-name>).
func ValidateRoleARN(s string) error {
	if !roleARNRe.MatchString(s) {
		return fmt.Errorf("role_arn %q is not a RAM role ARN; write it as acs:ram::<account-id>:role/<role-name>", s)
	}
	return nil
}

// ValidateProviderARN checks an Alibaba Cloud RAM OIDC provider ARN
// (acs:ram::<account-id>:oidc-provider/<name>).
func ValidateProviderARN(s string) error {
	if !providerARNRe.MatchString(s) {
		return fmt.Errorf("oidc_provider_arn %q is not a RAM OIDC provider ARN; write it as acs:ram::<account-id>:oidc-provider/<name>", s)
	}
	return nil
}

// ValidateAWSRoleARN checks an AWS IAM role ARN
// (arn:aws:iam::<12-digit account>:role/[path/]<name>).
func ValidateAWSRoleARN(s string) error {
	if !awsRoleARNRe.MatchString(s) {
		return fmt.Errorf("role_arn %q is not an IAM role ARN; write it as arn:aws:iam::<12-digit-account-id>:role/<role-name>", s)
	}
	return nil
}

// ValidateDuration checks a requested credential lifetime: whole seconds
// between 900 s and 43200 s (the role's own maximum may be lower).
func ValidateDuration(d time.Duration) error {
	if d < MinDuration || d > MaxDuration {
		return fmt.Errorf("duration %s is out of range; use between 15m and 12h (and at most the role's maximum session duration)", d)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("duration %s is not a whole number of seconds; round it", d)
	}
	return nil
}

// ValidatePolicy checks a session policy: a JSON object of at most 2048
// characters.
func ValidatePolicy(p string) error {
	if n := utf8.RuneCountInString(p); n == 0 || n > MaxPolicySize {
		return fmt.Errorf("policy is %d characters long; a session policy must be 1 to %d characters", n, MaxPolicySize)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(p), &obj); err != nil {
		return fmt.Errorf("policy is not a JSON object (%v); give a policy document like {\"Version\":\"1\",\"Statement\":[…]}", err)
	}
	return nil
}

// Session-name limits shared by Alibaba and AWS.
const (
	minSessionName = 2
	maxSessionName = 64
)

// SanitizeSessionName turns s (a subject, user name or e-mail) into a valid
// RoleSessionName: 2–64 characters of [A-Za-z0-9.@_-].
//
// Every other character becomes '-'. Because that, and truncation, can make
// two different inputs collide, a changed or truncated name gets "-" and 8 hex
// digits of SHA-256(s) at its end, so distinct inputs keep distinct names
// (audit logs show who it was). A name shorter than 2 characters is prefixed
// with the sanitized fallback ("edgeauth" when that is unusable too). The
// result is deterministic, so it can be part of a cache key.
func SanitizeSessionName(s string, fallback string) string {
	clean, changed := sanitizeChars(s)
	if len(clean) < minSessionName {
		fb, _ := sanitizeChars(fallback)
		if len(fb) < minSessionName {
			fb = "edgeauth"
		}
		if clean == "" {
			clean = fb
		} else {
			clean = fb + "-" + clean
			changed = true
		}
	}
	if !changed && len(clean) <= maxSessionName {
		return clean
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "-" + hex.EncodeToString(sum[:4])
	if len(clean)+len(suffix) > maxSessionName {
		clean = clean[:maxSessionName-len(suffix)]
	}
	return clean + suffix
}

// sanitizeChars replaces every byte outside [A-Za-z0-9.@_-] with '-' (one
// '-' per rune) and reports whether anything changed.
func sanitizeChars(s string) (string, bool) {
	var b strings.Builder
	changed := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '@', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
			changed = true
		}
	}
	return b.String(), changed
}
