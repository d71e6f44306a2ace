package assertsign

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Claims is what an assertion says about one caller on one route, without
// the times and ID each signature adds. It is comparable and the assertion
// cache's key, so every value that goes into the token is a field here:
// a claim added later (such as `cnf` for a sender-constrained caller) is one
// more field, set in ClaimsFor and written in payload.
type Claims struct {
	Audience  string // aud
	Subject   string // sub
	IdP       string // idp: the caller's token issuer
	Provider  string // provider: the configured provider name
	Scope     string // scope: granted scopes, space-separated
	AccountID string // aid
	UserID    string // uid
	UserType  string // type
	LoginName string // login_name
	UPN       string // upn
	Name      string // name
	Email     string // email
	// ClientID names the OAuth client the caller's token was issued to
	// (`client_id`, else `azp`): for a machine caller whose token has no
	// `sub`, the only name the assertion can give it.
	ClientID string // client_id
	RoleARN  string // role_arn, on STS routes (never credentials)
	// CnfMember and CnfThumbprint are the caller's token binding (RFC
	// 7800 `cnf`): "jkt" (DPoP) or "x5t#S256" (mTLS) and the thumbprint
	// the token was bound to; empty for bearer tokens and sessions.
	CnfMember     string
	CnfThumbprint string
}

// ClaimsFor collects the claims of an assertion for id on a route whose
// audience is aud and whose STS role (if any) is roleARN. Values are the
// raw claims, not their sanitized header form: the assertion is signed
// JSON, so control bytes travel JSON-escaped and a backend compares the
// exact value the provider issued. Scalar claims are written as strings
// (numbers in their JSON literal, booleans as true/false); a claim that is
// an object, an array, null or empty is left out.
func ClaimsFor(id *identity.Identity, aud, roleARN string) Claims {
	c := Claims{
		Audience:  aud,
		Subject:   id.Subject,
		IdP:       id.Issuer,
		Provider:  id.Provider,
		Scope:     scopeString(id),
		AccountID: rawString(id.Claims, "aid"),
		UserID:    rawString(id.Claims, "uid"),
		UserType:  rawString(id.Claims, "type"),
		LoginName: rawString(id.Claims, "login_name"),
		UPN:       rawString(id.Claims, "upn"),
		Name:      rawString(id.Claims, "name"),
		Email:     rawString(id.Claims, "email"),
		ClientID:  rawString(id.Claims, "client_id"),
		RoleARN:   roleARN,
	}
	if c.ClientID == "" {
		c.ClientID = rawString(id.Claims, "azp")
	}
	if b := id.Binding; b != nil && b.Thumbprint != "" {
		c.CnfMember, c.CnfThumbprint = b.CnfMember(), b.Thumbprint
	}
	if c.Subject == "" {
		c.Subject = rawString(id.Claims, "sub")
	}
	if c.IdP == "" {
		c.IdP = rawString(id.Claims, "iss")
	}
	return c
}

// scopeString is the granted scopes, space-separated. The token's own
// `scope` claim is used when it reads exactly so (the usual case), which
// saves joining them on every request.
func scopeString(id *identity.Identity) string {
	switch len(id.Scopes) {
	case 0:
		return ""
	case 1:
		return id.Scopes[0]
	}
	if s, ok := id.Claims["scope"].(string); ok && joinedBySpace(s, id.Scopes) {
		return s
	}
	return strings.Join(id.Scopes, " ")
}

// joinedBySpace reports whether s equals strings.Join(parts, " ").
func joinedBySpace(s string, parts []string) bool {
	for i, p := range parts {
		if i > 0 {
			if !strings.HasPrefix(s, " ") {
				return false
			}
			s = s[1:]
		}
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
	}
	return s == ""
}

// rawString returns a scalar claim as a string, unsanitized.
func rawString(claims map[string]any, name string) string {
	switch v := claims[name].(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

// payload is the JSON claim set of an assertion.
type payload struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub,omitempty"`
	IssuedAt  int64  `json:"iat"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
	IdP       string `json:"idp,omitempty"`
	Provider  string `json:"provider,omitempty"`
	Scope     string `json:"scope,omitempty"`
	AccountID string `json:"aid,omitempty"`
	UserID    string `json:"uid,omitempty"`
	UserType  string `json:"type,omitempty"`
	LoginName string `json:"login_name,omitempty"`
	UPN       string `json:"upn,omitempty"`
	Name      string `json:"name,omitempty"`
	Email     string `json:"email,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	RoleARN   string `json:"role_arn,omitempty"`
	// Cnf repeats the caller's binding: {"jkt": …} or {"x5t#S256": …}.
	Cnf map[string]string `json:"cnf,omitempty"`
}

// newPayload is the claim set of c issued by iss at iat, valid until exp.
func newPayload(c Claims, iss, jti string, iat, exp time.Time) *payload {
	return &payload{
		Issuer: iss, Audience: c.Audience, Subject: c.Subject,
		IssuedAt: iat.Unix(), Expiry: exp.Unix(), ID: jti,
		IdP: c.IdP, Provider: c.Provider, Scope: c.Scope,
		AccountID: c.AccountID, UserID: c.UserID, UserType: c.UserType,
		LoginName: c.LoginName, UPN: c.UPN, Name: c.Name, Email: c.Email,
		ClientID: c.ClientID, RoleARN: c.RoleARN,
		Cnf: cnf(c),
	}
}

// cnf is the `cnf` claim of c, nil when the caller's token was not bound.
func cnf(c Claims) map[string]string {
	if c.CnfMember == "" {
		return nil
	}
	return map[string]string{c.CnfMember: c.CnfThumbprint}
}

// The jwt.Claims methods; golang-jwt calls them only when parsing, which
// this package never does, but NewWithClaims takes a jwt.Claims.

// GetExpirationTime returns exp.
func (p *payload) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(p.Expiry, 0)), nil
}

// GetIssuedAt returns iat.
func (p *payload) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(p.IssuedAt, 0)), nil
}

// GetNotBefore returns nil: an assertion has no nbf.
func (p *payload) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer returns iss.
func (p *payload) GetIssuer() (string, error) { return p.Issuer, nil }

// GetSubject returns sub.
func (p *payload) GetSubject() (string, error) { return p.Subject, nil }

// GetAudience returns aud.
func (p *payload) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings{p.Audience}, nil }
