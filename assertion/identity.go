package assertion

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Identity is the caller's identity as a verified assertion states it.
type Identity struct {
	// Subject is `sub`: the caller. Empty only for a machine caller whose
	// token had no subject; ClientID then names it.
	Subject string
	// ClientID is `client_id`: the OAuth client the caller's token was
	// issued to, when the token said (`client_id` or `azp`).
	ClientID string
	// Issuer is `idp`: the issuer of the caller's token at the gateway.
	Issuer string
	// Provider is `provider`: the gateway's name for that provider.
	Provider string
	// Scopes are the granted scopes (`scope`, space-separated).
	Scopes []string
	// AID, UID, Type, LoginName, UPN, Name and Email are the claims `aid`,
	// `uid`, `type`, `login_name`, `upn`, `name` and `email`, when the
	// caller's identity holds them (empty otherwise).
	AID, UID, Type, LoginName, UPN, Name, Email string
	// RoleARN is `role_arn`: the role the gateway assumed (STS routes).
	RoleARN string
	// Confirmation is `cnf` as sent (a JSON object), when the caller's
	// token was sender-bound (DPoP or mTLS); nil otherwise.
	Confirmation json.RawMessage
	// AssertionIssuer is `iss`: the gateway (always the configured issuer).
	AssertionIssuer string
	// Audience is `aud` (always the configured audience).
	Audience string
	// ID is `jti`.
	ID string
	// IssuedAt is `iat`; ExpiresAt is `exp`.
	IssuedAt, ExpiresAt time.Time
	// KeyID and Algorithm are the header's `kid` and `alg`.
	KeyID, Algorithm string
	// Claims are all claims of the assertion, as sent.
	Claims map[string]json.RawMessage
}

// HasScope reports whether scope was granted.
func (id *Identity) HasScope(scope string) bool {
	for _, s := range id.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// stringClaims are the optional string claims and where they go.
func (id *Identity) stringClaims() []struct {
	name string
	dst  *string
} {
	return []struct {
		name string
		dst  *string
	}{
		{"idp", &id.Issuer}, {"provider", &id.Provider}, {"jti", &id.ID},
		{"aid", &id.AID}, {"uid", &id.UID}, {"type", &id.Type},
		{"login_name", &id.LoginName}, {"upn", &id.UPN}, {"name", &id.Name},
		{"email", &id.Email}, {"client_id", &id.ClientID}, {"role_arn", &id.RoleARN},
	}
}

// readClaims fills id from verified claims, checking only their JSON types
// (the caller checks their values). Required: iss, aud, iat, exp, and a
// caller's name: a non-empty sub, or (a machine caller whose token had no
// subject) no sub at all and a non-empty client_id.
func (id *Identity) readClaims(c map[string]json.RawMessage) error {
	id.Claims = c
	for _, name := range []string{"iss", "iat", "exp", "aud"} {
		if _, ok := c[name]; !ok {
			return refuse(ErrMissingClaim, name)
		}
	}
	var ok bool
	if id.AssertionIssuer, ok = stringMember(c, "iss"); !ok {
		return refuse(ErrInvalidClaim, "iss is not a string")
	}
	if _, present := c["sub"]; present {
		if id.Subject, ok = stringMember(c, "sub"); !ok {
			return refuse(ErrInvalidClaim, "sub is not a string")
		}
		if id.Subject == "" { // the gateway leaves sub out; it never sends it empty
			return refuse(ErrMissingClaim, "sub is empty")
		}
	}
	for _, sc := range id.stringClaims() {
		if _, present := c[sc.name]; !present {
			continue
		}
		if *sc.dst, ok = stringMember(c, sc.name); !ok {
			return refuse(ErrInvalidClaim, sc.name+" is not a string")
		}
	}
	if id.Subject == "" && id.ClientID == "" {
		return refuse(ErrMissingClaim, "sub (or client_id for a caller without a subject)")
	}
	if _, present := c["scope"]; present {
		s, ok := stringMember(c, "scope")
		if !ok {
			return refuse(ErrInvalidClaim, "scope is not a string")
		}
		id.Scopes = strings.Fields(s)
	}
	if raw, present := c["cnf"]; present {
		if len(raw) == 0 || raw[0] != '{' {
			return refuse(ErrInvalidClaim, "cnf is not an object")
		}
		id.Confirmation = raw
	}
	var err error
	if id.IssuedAt, err = numericDate(c, "iat"); err != nil {
		return err
	}
	if id.ExpiresAt, err = numericDate(c, "exp"); err != nil {
		return err
	}
	return nil
}

// maxNumericDate is the largest date accepted (year 5138), so that time
// arithmetic cannot overflow.
const maxNumericDate = 1e11

// numericDate reads an RFC 7519 NumericDate: a JSON number of seconds since
// the epoch, possibly fractional; a string is refused.
func numericDate(c map[string]json.RawMessage, name string) (time.Time, error) {
	raw := c[name]
	if len(raw) == 0 || !(raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		return time.Time{}, refuse(ErrInvalidClaim, name+" is not a number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, refuse(ErrInvalidClaim, name+" is out of range")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// audienceIs reports whether aud names exactly want. RFC 7519 §4.1.3 lets
// aud be one string or an array; the gateway always sends one string. An
// array is accepted only when it holds want and nothing else: an assertion
// that several backends accept could be replayed from one to the other,
// which is what binding it to one audience prevents.
func audienceIs(raw json.RawMessage, want string) (bool, error) {
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return false, refuse(ErrInvalidClaim, "aud is not a string or an array of strings")
		}
		if len(list) != 1 {
			return false, nil
		}
		raw = list[0]
	}
	if len(raw) == 0 || raw[0] != '"' {
		return false, refuse(ErrInvalidClaim, "aud is not a string or an array of strings")
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false, refuse(ErrInvalidClaim, "aud is not a string or an array of strings")
	}
	return s == want, nil
}
