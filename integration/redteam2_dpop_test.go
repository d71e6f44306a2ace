package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// TestRedTeam2DPoPProofForAnotherOriginReplayed: RFC 9449 binds a proof to
// one URI (htu) so that a resource server that receives a token and its
// proof cannot replay them at another one (§11.1). The gateway's expected
// htu takes the origin from the Host the client sends, and Caddy's host
// matcher ignores the port: a proof made for http://127.0.0.1:8443/x (a
// different origin — another resource server on the same host, which saw
// the token and proof and kept them) is accepted by the site
// http://127.0.0.1:PORT when replayed with `Host: 127.0.0.1:8443`. The
// proof's jti was never seen by this gateway, so the replay store does not
// stop it. (On a catch-all site any host works, not only another port.)
func TestRedTeam2DPoPProofForAnotherOriginReplayed(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	e.start(e.globals(e.providerBlock("demo")) + e.site("edgeauth demo", ""))
	alice := newDPoPClient(t)
	tok, typ := dpopTokenFor(t, e.idp, alice)
	if typ != "DPoP" || strings.Count(tok, ".") != 2 {
		t.Fatalf("the provider issued a %q token, want a DPoP-bound JWT", typ)
	}
	plain := e.mint(map[string]any{"sub": "bob"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/x", plain)
		return resp.StatusCode == http.StatusOK
	})
	// Control: a proof for this site's own origin passes.
	if resp, body := e.dpopRequest("GET", "/x", "DPoP", tok, []string{alice.proof("GET", e.url("/x"), tok)}); resp.StatusCode != http.StatusOK {
		t.Fatalf("control: a valid proof got %d: %s", resp.StatusCode, body)
	}

	for _, other := range []string{"127.0.0.1:8443", "127.0.0.1:1"} {
		// What the other resource server received from alice's client.
		proof := alice.proof("GET", "http://"+other+"/x", tok)
		req, err := http.NewRequest(http.MethodGet, e.url("/x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = other
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		resp, body := e.do(req)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("a proof for http://%s/x, replayed with Host %s, was accepted by the site http://127.0.0.1:%d (%d-byte upstream answer)", other, other, e.port, len(body))
		}
	}
}
