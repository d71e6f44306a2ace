// Package demoidp is a small, standards-faithful OpenID provider for tests and
// demos of edgeauth. It runs on loopback (HTTPS by default, with an in-memory CA),
// signs tokens with rotatable keys, serves the OAuth 2.0 / OIDC endpoints
// (discovery, JWKS, authorize with login and consent pages, token, userinfo,
// RFC 7662 introspection, RFC 7009 revocation, RP-initiated logout) and models
// Alibaba Cloud RAM users and their claims (aid, uid, type, upn, login_name).
//
// It also offers fault injection (SetDown, SetHang, FailEndpoint), request
// counters, and knobs for a misbehaving provider (SetStatedIssuer,
// SetJWKSCacheControl, Handle for answers it would never give, and the Mint
// options) so that tests can observe how a relying party talks to its
// provider. It is the one test OpenID provider of this repository: the
// engine packages' tests (module/oidc, module/token, module/login,
// module/sts) and the STS emulator's tests use it too. Of the module it
// imports only module/endpoint, a leaf, so any other package's tests may
// import it without a cycle.
//
// Nothing here is meant for production: passwords are shown on the login page.
package demoidp
