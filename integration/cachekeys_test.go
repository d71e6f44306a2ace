package integration

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestSiblingTokenCacheNeverCrossesProviders (issue 9, cache keys): the
// verified-token cache is keyed by the token and answers a route only with
// an identity verified by one of the route's own providers. Two providers
// share the demo issuer but accept different audiences; a token verified
// (and cached) for one is still refused on the other's route, in either
// order. A token is cached from its second sight on: the first round
// presents each token once more, the second and third run with both
// tokens cached.
func TestSiblingTokenCacheNeverCrossesProviders(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("pa", "audiences aud-a")+"\n"+e.providerBlock("pb", "audiences aud-b")) +
		fmt.Sprintf(`http://127.0.0.1:%d {
	route /a/* {
		edgeauth pa
		reverse_proxy %s
	}
	route /b/* {
		edgeauth pb
		reverse_proxy %s
	}
}
`, e.port, e.upstream, e.upstream))
	forA := e.mint(map[string]any{"aud": "aud-a", "sub": "caller-a"})
	forB := e.mint(map[string]any{"aud": "aud-b", "sub": "caller-b"})
	waitFor(t, "keys", 10*time.Second, func() bool {
		resp, _ := e.get("/a/x", forA)
		return resp.StatusCode == http.StatusOK
	})
	for i := 0; i < 3; i++ { // rounds 2 and 3 run with both tokens cached
		if got := e.upstreamSaw(e.get("/a/x", forA)).header("X-Auth-Subject"); got != "caller-a" {
			t.Fatalf("route a: subject %q", got)
		}
		resp, body := e.get("/b/x", forA)
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
		if got := e.upstreamSaw(e.get("/b/x", forB)).header("X-Auth-Subject"); got != "caller-b" {
			t.Fatalf("route b: subject %q", got)
		}
		resp, body = e.get("/a/x", forB)
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	}
}
