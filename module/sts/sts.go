// Package sts exchanges a caller's OIDC token for temporary cloud credentials
// at a security token service: Alibaba Cloud STS AssumeRoleWithOIDC, AWS STS
// AssumeRoleWithWebIdentity, or an RFC 8693 token-exchange endpoint. All three
// sit behind the Exchanger interface; Cache adds per-key single-flight and
// refresh ahead of expiry.
//
// Nothing in this package logs, and no error string it builds contains a
// token, a client secret or a credential.
package sts

import (
	"context"
	"time"
)

// Request is one exchange. Each backend uses the fields it needs:
//
//   - Alibaba: Token, RoleARN, ProviderARN, SessionName, Duration, Policy.
//   - AWS: Token, RoleARN, SessionName, Duration, Policy.
//   - RFC 8693: Token, Audience, Scope (both override the configured ones when set).
type Request struct {
	// Token is the caller's OIDC token (subject token). It is sent only in
	// request bodies, never in a URL.
	Token string
	// RoleARN is the role to assume.
	RoleARN string
	// ProviderARN is the Alibaba RAM OIDC identity provider ARN.
	ProviderARN string
	// SessionName is the role session name (see SanitizeSessionName).
	SessionName string
	// Duration is the requested credential lifetime; zero means 1 hour.
	Duration time.Duration
	// Policy is an optional session policy (JSON) narrowing the role's rights.
	Policy string
	// Audience is the RFC 8693 target audience.
	Audience string
	// Scope is the RFC 8693 requested scope (space-separated).
	Scope string
}

// Exchanger turns a caller's token into temporary credentials.
//
// Errors are always *Error, whose Kind says how the gateway answers.
type Exchanger interface {
	Exchange(ctx context.Context, req Request) (*Credentials, error)
	// ValidateRole checks, at load time, a role ARN in the form this STS
	// takes; the error names role_arn and the expected form.
	ValidateRole(arn string) error
	// NeedsRole reports whether an exchange must name a role to assume.
	NeedsRole() bool
}

// DefaultTimeout bounds one exchange, retries included, when a config leaves
// Timeout at zero.
const DefaultTimeout = 5 * time.Second

// DefaultDuration is the credential lifetime requested when Request.Duration
// is zero (the STS default).
const DefaultDuration = time.Hour

// MaxTokenSize is the STS limit for OIDCToken / WebIdentityToken (characters).
const MaxTokenSize = 20000
