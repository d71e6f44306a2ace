// Package assertsign is the gateway side of the signed identity assertion:
// it signs, for each authorized request on a route with `assertion`, a
// short-lived JWT that tells the upstream who the caller is, and publishes
// the public keys that verify it (JWKS and an OpenID-style discovery
// document under /.well-known/edgeauth/).
//
// Keys come from an operator's PEM file (key_file: no generation, no
// rotation) or are generated on first use and kept in a certmagic.Storage
// (Caddy's configured `storage`), so that a restart keeps them and every
// instance sharing the storage signs and publishes one key set. Generation
// and rotation happen under the storage's lock, re-reading the stored set
// after taking it, so a race between instances ends with one key.
//
// Assertions are cached per claim set (identity, audience, route claims)
// and reused until half their lifetime has passed, so a repeated caller
// costs no signature.
//
// The package has no Caddy import beyond certmagic's storage interface; the
// glue in package edgeauth wires it to the app and the handler.
package assertsign
