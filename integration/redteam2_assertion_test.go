package integration

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeam2AssertionAudienceFromClientHost: on a host-bound site
// (`http://127.0.0.1:PORT`, the shape every site in the README has) a route
// with `assertion` and the default audience signs `aud` from the Host the
// client sent. Caddy's host matcher ignores the port, so the client picks
// the port part of the audience freely: `Host: 127.0.0.1:8443` gets the
// gateway to sign, for this caller, an assertion whose aud is
// http://127.0.0.1:8443 — another origin (another backend on the same host
// that trusts assertions for its own origin). The README's verification
// rule, "aud equals this backend's audience", then does not keep one
// backend's assertion from another. The audience should be the origin the
// site was configured for (or the listener's port), not the request's.
func TestRedTeam2AssertionAudienceFromClientHost(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	alice := e.startAssertion(t.TempDir(), assertionBlock())
	want := fmt.Sprintf("http://127.0.0.1:%d", e.port)

	for _, host := range []string{"127.0.0.1:8443", "127.0.0.1:80", "127.0.0.1:1", "127.0.0.1:1@evil.example", "127.0.0.1:443.evil.example"} {
		req, err := http.NewRequest(http.MethodGet, e.url("/x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, body := e.do(req)
		if resp.StatusCode != http.StatusOK {
			continue // refused: held
		}
		got := e.upstreamSaw(resp, body)
		jws := got.header("X-Auth-Assertion")
		if jws == "" {
			t.Fatalf("Host %q: no assertion upstream", host)
		}
		if aud := decodeClaims(t, jws)["aud"]; aud != want {
			t.Errorf("Host %q: the gateway signed aud %v for the caller (the site is %s)", host, aud, want)
		}
	}
}
