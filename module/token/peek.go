package token

import "strings"

// PeekScopes reads the `scope`/`scp` claims of a JWT WITHOUT verifying
// it. Use it only for an access token received directly from the
// provider's token endpoint over TLS, where it says no more than the
// answer's own `scope` member would. ok is false when raw is not a JWS
// compact token with a strict JSON payload (no repeated member names), or
// has neither claim.
func PeekScopes(raw string) (scopesOut []string, ok bool) {
	if strings.Count(raw, ".") != 2 || len(raw) > DefaultMaxTokenSize {
		return nil, false
	}
	p64 := raw[strings.IndexByte(raw, '.')+1 : strings.LastIndexByte(raw, '.')]
	payload, err := b64.DecodeString(p64)
	if err != nil {
		return nil, false
	}
	claims, err := decodeStrict(payload)
	if err != nil {
		return nil, false
	}
	_, hasScope := claims["scope"]
	_, hasScp := claims["scp"]
	if !hasScope && !hasScp {
		return nil, false
	}
	return scopes(claims), true
}
