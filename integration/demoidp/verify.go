package demoidp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// verifyOwn checks a JWT signed by one of this server's published keys and
// issued by it. With checkTime false, exp/nbf/iat are not checked (as for
// id_token_hint).
func (s *Server) verifyOwn(raw string, checkTime bool) (jwt.MapClaims, error) {
	opts := []jwt.ParserOption{jwt.WithValidMethods(supportedAlgs), jwt.WithTimeFunc(s.opts.Now)}
	if checkTime {
		opts = append(opts, jwt.WithExpirationRequired(), jwt.WithIssuer(s.issuer))
	} else {
		opts = append(opts, jwt.WithoutClaimsValidation())
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.keys.get(kid)
		if k == nil || !k.published {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		if k.alg != t.Method.Alg() && !sameFamily(t.Method.Alg(), k.alg) {
			return nil, fmt.Errorf("alg %s does not fit key %s", t.Method.Alg(), kid)
		}
		return k.public(), nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	if iss, _ := claims["iss"].(string); iss != s.issuer {
		return nil, errors.New("token was not issued by this provider")
	}
	return claims, nil
}

// lookupAccess resolves an access token: one issued by /token (opaque or
// JWT), or any valid JWT from this server (e.g. from MintFor), read from its
// own claims. It returns a description of the problem when invalid.
func (s *Server) lookupAccess(token string) (*grant, string) {
	now := s.opts.Now()
	s.mu.Lock()
	g, ok := s.state.access[tokenKey(token)]
	var copyG grant
	if ok {
		copyG = *g
	}
	s.mu.Unlock()
	if ok {
		switch {
		case copyG.revoked:
			return nil, "the access token was revoked"
		case now.After(copyG.expires):
			return nil, "the access token expired"
		}
		return &copyG, ""
	}
	if strings.Count(token, ".") != 2 {
		return nil, "unknown access token"
	}
	claims, err := s.verifyOwn(token, true)
	if err != nil {
		return nil, "invalid access token: " + err.Error()
	}
	sub, _ := claims["sub"].(string)
	u, known := s.userBySubject(sub)
	if !known {
		u = User{Subject: sub}
	}
	scope, _ := claims["scope"].(string)
	out := &grant{user: u, scopes: splitScope(scope)}
	if cid, ok := claims["client_id"].(string); ok {
		out.clientID = cid
	} else if aud, err := claims.GetAudience(); err == nil && len(aud) > 0 {
		out.clientID = aud[0]
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		out.expires = exp.Time
	}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		out.issuedAt = iat.Time
	}
	return out, ""
}
