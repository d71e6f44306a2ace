package token

import (
	"context"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Selector dispatches a token to the verifier of its issuer.
type Selector struct {
	byIssuer map[string]*Verifier
	maxSize  int
}

// NewSelector returns a selector over verifiers. Issuers must be distinct
// (the configuration layer checks that); for a repeated issuer the first
// verifier wins. A verifier whose configured issuer ends in "/" is also
// selected by the issuer without it (the form its discovery document may
// state, see oidc.IssuerMatches); the verifier itself then checks `iss`
// against the stated form exactly.
func NewSelector(verifiers ...*Verifier) *Selector {
	s := &Selector{byIssuer: make(map[string]*Verifier, len(verifiers))}
	for _, v := range verifiers {
		if _, dup := s.byIssuer[v.Issuer()]; dup {
			continue
		}
		s.byIssuer[v.Issuer()] = v
		s.maxSize = max(s.maxSize, v.rules.MaxTokenSize)
	}
	for _, v := range verifiers {
		trimmed := strings.TrimRight(v.Issuer(), "/")
		if _, taken := s.byIssuer[trimmed]; !taken && trimmed != v.Issuer() && trimmed != "" {
			s.byIssuer[trimmed] = v
		}
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxTokenSize
	}
	return s
}

// Verify reads `iss` from the (bounded, not yet verified) payload, then
// verifies the token with the verifier of exactly that issuer. An unknown
// issuer is Invalid "issuer not trusted". Errors are *Error.
func (s *Selector) Verify(ctx context.Context, raw string) (*identity.Identity, error) {
	var p parsed // on the stack: an allocation less per new token
	if e := p.parse(raw, s.maxSize); e != nil {
		return nil, e
	}
	iss, present := p.claims["iss"]
	if !present {
		return nil, invalid(CodeMissingClaim, "token has no iss claim")
	}
	name, _ := iss.(string)
	v := s.byIssuer[name]
	if v == nil {
		return nil, invalid(CodeIssuerNotTrusted, "issuer not trusted")
	}
	return v.verifyParsed(ctx, raw, &p)
}
