package sts

import (
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/module/logsafe"
)

// Credentials are temporary credentials returned by an exchange.
//
// Values shared through Cache are read-only: do not modify them.
//
// Every printing path (fmt verbs, zap, encoding/json) redacts AccessKeySecret
// and SecurityToken, so an accidental log line shows nothing secret. Read the
// fields directly to use them.
type Credentials struct {
	// AccessKeyID is the temporary access key ID (Alibaba "STS.…", AWS "ASIA…");
	// empty for RFC 8693.
	AccessKeyID string
	// AccessKeySecret is the temporary secret (AWS SecretAccessKey). Secret.
	AccessKeySecret string
	// SecurityToken is the session token (AWS SessionToken; for RFC 8693 the
	// issued token). Secret.
	SecurityToken string
	// Expiration is when the credentials stop working.
	Expiration time.Time
	// AssumedRoleARN is the ARN of the assumed role session, when known.
	AssumedRoleARN string
	// AssumedRoleID is the assumed role ID, when known.
	AssumedRoleID string
	// RequestID is the STS request ID (for support tickets and logs).
	RequestID string
	// Subject is the token subject as the STS saw it, when reported.
	Subject string
	// Issuer is the token issuer as the STS saw it, when reported.
	Issuer string
	// SourceIdentity is the source identity, when the STS reports one.
	SourceIdentity string
}

const redacted = logsafe.Redacted

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// safeView is what every printing path shows: the same fields without
// Credentials' methods (so printing it does not recurse), secrets redacted.
type safeView Credentials

func (c Credentials) safe() safeView {
	v := safeView(c)
	v.AccessKeySecret = redact(c.AccessKeySecret)
	v.SecurityToken = redact(c.SecurityToken)
	return v
}

// String returns a redacted description.
func (c Credentials) String() string {
	v := c.safe()
	return fmt.Sprintf("sts.Credentials{AccessKeyID:%s AccessKeySecret:%s SecurityToken:%s Expiration:%s AssumedRoleARN:%s RequestID:%s}",
		v.AccessKeyID, v.AccessKeySecret, v.SecurityToken, v.Expiration.UTC().Format(time.RFC3339), v.AssumedRoleARN, v.RequestID)
}

// GoString returns a redacted Go-syntax description (%#v).
func (c Credentials) GoString() string {
	return fmt.Sprintf("sts.Credentials%+v", c.safe())
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x …) print the redacted
// form.
func (c Credentials) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, c.GoString())
	case verb == 'v' && f.Flag('+'):
		_, _ = fmt.Fprintf(f, "%+v", c.safe())
	default:
		_, _ = fmt.Fprint(f, c.String())
	}
}

// MarshalLogObject implements zapcore.ObjectMarshaler with secrets redacted.
func (c Credentials) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	v := c.safe()
	enc.AddString("access_key_id", v.AccessKeyID)
	enc.AddString("access_key_secret", v.AccessKeySecret)
	enc.AddString("security_token", v.SecurityToken)
	enc.AddTime("expiration", v.Expiration)
	enc.AddString("assumed_role_arn", v.AssumedRoleARN)
	enc.AddString("request_id", v.RequestID)
	if v.Subject != "" {
		enc.AddString("subject", v.Subject)
	}
	return nil
}

// MarshalJSON encodes the redacted form, so that credentials never reach a
// JSON log or response by accident.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.safe())
}

var (
	_ fmt.Stringer            = Credentials{}
	_ fmt.GoStringer          = Credentials{}
	_ fmt.Formatter           = Credentials{}
	_ zapcore.ObjectMarshaler = Credentials{}
	_ json.Marshaler          = Credentials{}
)
