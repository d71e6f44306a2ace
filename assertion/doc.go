// Package assertion verifies, in a backend, the signed identity assertion
// that the edgeauth gateway sends upstream in the X-Auth-Assertion header
// (README "Identity assertion"), and offers an http.Handler middleware that
// refuses requests without a valid one.
//
// The package imports no Caddy package, so any Go service can use it. For
// that reason it does not reuse the gateway's engine (module/token,
// module/oidc import Caddy): its strict JSON reader, JWKS parsing and key
// fetching are its own, smaller ones, held to the same rules by their own
// tests (duplicate members, lossy UTF-8, key types).
//
//	v, err := assertion.NewVerifier("https://gw.example.com", "https://app.example.com")
//	if err != nil { … }
//	http.Handle("/", v.Require(app)) // 401 without a valid assertion
//	// in app: id, _ := assertion.FromContext(r.Context()); id.Subject …
//
// A Verifier finds the gateway's keys through its discovery document
// (<issuer>/.well-known/edgeauth/openid-configuration) or a JWKS URL given
// directly. It loads them on first use, keeps them for their lifetime
// (Cache-Control max-age, clamped to [1m, 24h]; 1h without one) and refreshes
// them in the background without blocking a request; an unknown key ID
// refetches them at most once per cooldown (30s), one fetch shared by every
// waiting caller; a failed fetch keeps the previous keys.
//
// What Verify checks, in order: size (before any decoding), compact
// serialization, header (typ JWT, an allowed asymmetric alg, a kid, no crit,
// no embedded or remote key), key (by kid; its type must fit alg), the
// signature, then the claims: no duplicate member names at any depth, iss
// equal to the configured issuer, aud equal to the configured audience,
// iat and exp present, a non-empty sub (or client_id for a machine caller
// without a subject), exp not passed and iat/nbf not in the future
// (both with clock skew), and a lifetime (exp − iat) of at most one hour,
// the gateway's maximum. Error texts never contain token content.
package assertion
