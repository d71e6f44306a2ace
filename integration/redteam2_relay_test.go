package integration

import (
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeam2PublicPathRelaysClientAuthorization: README (Token relay,
// Identity headers) promises that with pass_access_token "on such a route
// the upstream's Authorization is either a bearer token the gateway verified
// or the session's own access token". On a `public` path of that route the
// client's own, never-verified `Authorization: Bearer <anything>` reaches the
// upstream as it came, so an upstream that trusts the relayed bearer (the
// reason pass_access_token exists) is handed a forged/foreign token — also
// with a live session cookie alongside, where the session's token is not
// relayed but the client's is.
func TestRedTeam2PublicPathRelaysClientAuthorization(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.startLogin(loginOpts{
		login: "param login_hint alice",
		rules: "\t\tpublic /pub/*\n\t\tpass_access_token\n",
	})
	b := e.newCookieClient("")
	b.login("/")

	for _, sent := range []string{"Bearer forged.not.verified", "Basic Zm9vOmJhcg=="} {
		// Anonymous client on the public path.
		if got := e.upstreamSaw(e.get("/pub/x", "", "Authorization: "+sent)); got.header("Authorization") != "" {
			t.Errorf("public path, no session, client Authorization %q: upstream got Authorization %q; want none (pass_access_token: only a verified bearer or the session's token)", sent, got.header("Authorization"))
		}
		// Logged-in browser on the public path.
		if got := e.upstreamSaw(b.api("/pub/x", "Authorization: "+sent)); got.header("Authorization") == "Authorization: "+sent || got.header("Authorization") == sent {
			t.Errorf("public path, live session, client Authorization %q reached the upstream unverified", sent)
		}
	}
}
