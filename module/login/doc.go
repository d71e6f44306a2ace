// Package login runs the OAuth 2.0 / OpenID Connect authorization-code flow
// for browsers: PKCE, per-login state cookies, redirect validation, the token
// endpoint client, and the endpoints under the login prefix (start,
// callback, logout, userinfo), plus refreshing sessions before they expire.
//
// # Wiring a Flow into a handler
//
// Build one Flow per login provider with NewFlow, giving it a
// session.Store, the session.Sealer (for pending-login cookies), an
// IDTokenVerifier that checks signature, iss, aud, exp and iat, and the
// provider's metadata and HTTP client. In the handler's ServeHTTP:
//
//  1. after stripping identity headers, call StripOwnCookies on the request
//     headers that go upstream (after reading the session, not before);
//  2. if Owns(r), call ServeHTTP and stop;
//  3. for a protected request without a bearer token, call Session(ctx, w,
//     r). On error: if IsLoginRequired(err) and IsBrowserNavigation(r) and
//     login is on, StartLogin(w, r, r.URL.RequestURI(), nil); otherwise 401
//     (other errors are store failures: 503);
//  4. with a session, s.Identity() is the caller (Token = the ID token);
//  5. for a route needing scopes, StepUp(s, need): when missing is not
//     empty and ask is true and the request is a browser navigation,
//     StartLogin(w, r, r.URL.RequestURI(), missing); otherwise 403
//     insufficient_scope.
//
// Session may write Set-Cookie headers (refreshed or cleared session), so
// call it before the response is written.
//
// # Incremental authorization
//
// A login records in the session every scope it asked for but was not
// granted (Session.Refused). StepUp only offers a new login when none of
// the missing scopes was refused before, so a route's missing scope sends
// the browser to the provider once and a second refusal is a 403, never a
// redirect loop. A step-up login asks for the configured scopes, the
// session's current scopes and the missing ones; its PendingLogin.Attempt
// is 1.
package login
