// Package dpop checks RFC 9449 DPoP proofs: the signed JWT a client sends
// in the `DPoP` header with each request to prove that it holds the key an
// access token is bound to (the token's `cnf.jkt`).
//
// Checker.Check first reads a proof (compact JWS, typ dpop+jwt, an asymmetric alg, a
// public `jwk` header) without trusting it, then verifies the
// signature with that jwk and the claims against the request (htm, htu,
// iat, ath, the token's jkt, an optional server nonce) and finally records
// the proof's jti in a replay store, so that a proof passes once. The
// signature is checked with golang-jwt's signing methods over keys built by
// the oidc package from crypto/*; nothing here implements a primitive.
package dpop
