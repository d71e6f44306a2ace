package demoidp

import "time"

// BackChannelLogoutEvent is the member of a logout token's events claim
// (OpenID Connect Back-Channel Logout 1.0 §2.4).
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenTTL is the lifetime MintLogoutToken gives a logout token.
const LogoutTokenTTL = 2 * time.Minute

// MintLogoutToken signs a back-channel logout token as a provider sends it
// to a relying party's backchannel_logout_uri: typ logout+jwt, iss, aud
// (the first client), iat, exp, a fresh jti, the logout event, and sid
// and/or sub (an empty one is left out). It never has a nonce. opts apply
// as for Mint (WithHeader("typ", …) retypes it, WithClaims changes claims).
func (s *Server) MintLogoutToken(sid, sub string, opts ...MintOption) (string, error) {
	now := s.opts.Now()
	claims := map[string]any{
		"iat":    now.Unix(),
		"exp":    now.Add(LogoutTokenTTL).Unix(),
		"jti":    randomToken(12),
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if sid != "" {
		claims["sid"] = sid
	}
	drop := map[string]any{}
	if sub != "" {
		claims["sub"] = sub
	} else {
		drop["sub"] = nil // Mint would fill in the first user
	}
	all := append([]MintOption{WithHeader("typ", "logout+jwt"), WithClaims(drop)}, opts...)
	return s.Mint(claims, all...)
}
