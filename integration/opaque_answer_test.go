package integration

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// An RFC 7662 answer that names no audience and no client (no aud,
// client_id or azp) ties the token to no application: through Caddy, the
// gateway refuses it even for a token the provider issued to the gateway
// itself. The provider's introspection endpoint is reached through a
// loopback relay that, once told to, drops those members from the demo
// provider's real answer; the same relay passing the answer unchanged shows
// that the refusal comes from the missing client alone.
func TestIntrospectionAnswerNamingNoClientRefused(t *testing.T) {
	e := newEnv(t, twoClients(false))
	var strip atomic.Bool
	var relayed atomic.Int32
	idpClient := e.idp.Client()
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		relayed.Add(1)
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequestWithContext(r.Context(), r.Method, e.idp.Issuer()+demoidp.PathIntrospect, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := idpClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var answer map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if strip.Load() {
			delete(answer, "aud")
			delete(answer, "client_id")
			delete(answer, "azp")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(relay.Close)
	e.startOpaque("opaque_tokens introspection", "introspection_endpoint "+relay.URL+"/introspect")

	named := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	if got := e.upstreamSaw(e.get("/api", named)); got.header("X-Auth-Subject") != "2000000000000002" {
		t.Fatalf("an answer naming the gateway's client: subject %q, want alice's", got.header("X-Auth-Subject"))
	}
	strip.Store(true)
	unnamed := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
	before := relayed.Load()
	e.refused("an answer naming no audience or client", unnamed)
	if relayed.Load() == before {
		t.Error("the token was not introspected through the relay")
	}
}
