package token

import "slices"

// AcceptsIDTokens reports whether an ID token issued to clientID by this
// verifier's issuer would pass as a bearer token: the audience allow-list
// holds clientID and the type allow-list admits an untyped or JWT-typed
// token (IDTokenTypes). The login flow uses it to refuse, at load time, to
// put the session's ID token in a logout URL when that URL would carry a
// working bearer credential.
func (v *Verifier) AcceptsIDTokens(clientID string) bool {
	if !slices.Contains(v.rules.Audiences, clientID) {
		return false
	}
	for _, typ := range IDTokenTypes {
		if slices.Contains(v.types, typ) {
			return true
		}
	}
	return false
}
