package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestFinding10LogoutTokenIsNotABearerToken: a back-channel logout token
// minted by the demo provider with its real signing key (right issuer,
// audience = the client ID, not expired) is refused as a bearer token with
// 401 invalid_token, as are a DPoP proof and a security event token;
// before the fix they reached the upstream as the user.
func TestFinding10LogoutTokenIsNotABearerToken(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})
	alice, ok := e.idp.User("alice")
	if !ok {
		t.Fatal("the demo provider has no alice")
	}
	logout, err := e.idp.MintLogoutToken("sid-finding-10", alice.Subject)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"logout+jwt":             logout,
		"application/logout+jwt": e.aliceToken(demoidp.WithHeader("typ", "application/logout+jwt")),
		"dpop+jwt":               e.aliceToken(demoidp.WithHeader("typ", "dpop+jwt")),
		"secevent+jwt":           e.aliceToken(demoidp.WithHeader("typ", "secevent+jwt")),
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := e.get("/", tok)
			assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
			if !strings.Contains(resp.Header.Get("WWW-Authenticate"), "token type") {
				t.Errorf("WWW-Authenticate = %q, want the token type named as the reason", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// Access tokens typed JWT (the demo's minted tokens) and at+jwt pass.
	e.upstreamSaw(e.get("/", e.aliceToken()))
	e.upstreamSaw(e.get("/", e.aliceToken(demoidp.WithHeader("typ", "at+jwt"))))
}

// TestFinding10TokenTypesOption: `token_types at+jwt` narrows a provider
// to RFC 9068 access tokens: a JWT-typed token (such as an ID token) is
// refused, an at+jwt one passes.
func TestFinding10TokenTypesOption(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(bearerSite(e, "token_types at+jwt"))
	at := e.aliceToken(demoidp.WithHeader("typ", "application/at+jwt"))
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/", at)
		return resp.StatusCode == http.StatusOK
	})
	resp, body := e.get("/", e.aliceToken()) // typ JWT
	assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	e.upstreamSaw(e.get("/", at))
}
