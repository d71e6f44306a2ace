package assertsign

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestRedTeam2DiscoveryJWKSURIFromClientHost: the discovery document names
// jwks_uri on whatever Host (or absolute-form request target) the client
// sent, and says `Cache-Control: public`. The verifier package
// (assertion.NewVerifier) takes jwks_uri from this document and fetches the
// keys from there, on any https origin. So a client that reaches the
// discovery path with `Host: attacker.example` (a catch-all site, `:443`,
// or an absolute-form request line behind a proxy/cache that keys on the
// Host header) gets the gateway to publish, publicly cacheable, a document
// that points verifiers at the attacker's keys: one poisoned cache entry
// and the attacker signs assertions for any identity. jwks_uri should be
// derived from the configured issuer (or the response must not be shared).
func TestRedTeam2DiscoveryJWKSURIFromClientHost(t *testing.T) {
	s := testSigner(t, Config{Issuer: testIssuer, Algorithm: EdDSA}, t.TempDir(), nil, nil)
	iss, _ := url.Parse(testIssuer)
	for _, host := range []string{"attacker.example", "attacker.example:8443"} {
		r := httptest.NewRequest(http.MethodGet, "https://"+iss.Host+DiscoveryPath, nil)
		r.Host = host
		rec := httptest.NewRecorder()
		if !s.ServeWellKnown(rec, r) {
			t.Fatal("discovery not answered")
		}
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(doc.JWKSURI)
		if err != nil {
			t.Fatal(err)
		}
		if u.Host != iss.Host && strings.HasPrefix(rec.Header().Get("Cache-Control"), "public") {
			t.Errorf("Host %q: discovery names jwks_uri %q (issuer %s) and is %q: a client-chosen key location the gateway vouches for and a shared cache keeps", host, doc.JWKSURI, testIssuer, rec.Header().Get("Cache-Control"))
		}
	}
}
