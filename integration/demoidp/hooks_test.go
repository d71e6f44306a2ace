package demoidp

import (
	"crypto/tls"
	"net/http"
	"testing"
)

// TestEndpointFaultsAndOverrides covers the knobs that tests of relying
// parties use: one failing endpoint, a stated issuer that differs, the JWKS
// Cache-Control, an extra route and the request counter for every path.
func TestEndpointFaultsAndOverrides(t *testing.T) {
	s := startIDP(t, Options{KeyAlg: "ES256"})
	c := s.Client()
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := c.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if algs := s.keys.publishedAlgs(); len(algs) != 1 || algs[0] != "ES256" {
		t.Fatalf("KeyAlg ES256: published algorithms %v", algs)
	}
	if kid := s.CurrentKID(); kid != thumbprint(s.PublicKey(kid)) {
		t.Fatalf("default kid %q is not the key's thumbprint", kid)
	}
	named := startIDP(t, Options{KeyAlg: "ES256", KeyID: "k1"})
	if kids := named.PublishedKIDs(); named.CurrentKID() != "k1" || len(kids) != 1 || kids[0] != "k1" {
		t.Fatalf("KeyID k1: current %q, published %v", named.CurrentKID(), kids)
	}

	s.FailEndpoint(PathJWKS, http.StatusInternalServerError)
	if r := get(PathJWKS); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("failed JWKS answered %d", r.StatusCode)
	}
	if r := get(PathDiscovery); r.StatusCode != http.StatusOK {
		t.Fatalf("discovery answered %d while only the JWKS fails", r.StatusCode)
	}
	s.FailEndpoint(PathDiscovery, http.StatusServiceUnavailable)
	if r := get(PathDiscovery); r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("failed discovery answered %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	s.FailEndpoint(PathJWKS, 0)
	s.FailEndpoint(PathDiscovery, 0)
	if r := get(PathJWKS); r.StatusCode != http.StatusOK || r.Header.Get("Cache-Control") != DefaultJWKSCacheControl {
		t.Fatalf("restored JWKS answered %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	s.SetJWKSCacheControl("")
	if r := get(PathJWKS); r.Header.Get("Cache-Control") != "" {
		t.Fatalf("Cache-Control %q after SetJWKSCacheControl(\"\")", r.Header.Get("Cache-Control"))
	}

	s.SetStatedIssuer("https://elsewhere.example")
	var doc map[string]any
	getJSON(t, c, s.URL()+PathDiscovery, &doc)
	if doc["issuer"] != "https://elsewhere.example" || doc["jwks_uri"] != s.URL()+PathJWKS {
		t.Fatalf("stated issuer: issuer %v, jwks_uri %v", doc["issuer"], doc["jwks_uri"])
	}
	s.SetStatedIssuer("")
	getJSON(t, c, s.URL()+PathDiscovery, &doc)
	if doc["issuer"] != s.Issuer() {
		t.Fatalf("issuer %v after SetStatedIssuer(\"\")", doc["issuer"])
	}

	s.Handle("/moved", http.RedirectHandler(s.URL()+PathJWKS, http.StatusFound))
	noRedirect := noFollow(s)
	resp, err := noRedirect.Get(s.URL() + "/moved")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("extra route answered %d", resp.StatusCode)
	}

	s.ResetCounts()
	get("/no-such-path")
	get(PathJWKS)
	if n := s.Counts(); n.All != 2 || n.JWKS != 1 {
		t.Fatalf("counts %+v, want All 2 and JWKS 1", n)
	}
}

// TestTLSLeafOnly: with TLSLeafOnly the handshake carries the server
// certificate alone; by default it carries the CA too.
func TestTLSLeafOnly(t *testing.T) {
	for _, leafOnly := range []bool{false, true} {
		s := startIDP(t, Options{TLSLeafOnly: leafOnly, KeyAlg: "ES256"})
		conn, err := tls.Dial("tcp", s.Addr(), s.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		peers := conn.ConnectionState().PeerCertificates
		conn.Close()
		want := 2
		if leafOnly {
			want = 1
		}
		if len(peers) != want || !peers[0].Equal(s.LeafCert()) {
			t.Fatalf("TLSLeafOnly=%v: %d certificates presented, want %d starting with LeafCert", leafOnly, len(peers), want)
		}
	}
}

// fakeTB records what ForTest and MintForTest report.
type fakeTB struct {
	fatal    string
	cleanups []func()
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = format }
func (f *fakeTB) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }

// TestForTest: ForTest serves at once and closes at cleanup; a bad option
// or a failed Mint ends the test.
func TestForTest(t *testing.T) {
	tb := &fakeTB{}
	s := ForTest(tb, Options{KeyAlg: "ES256"})
	if tb.fatal != "" || len(tb.cleanups) != 1 {
		t.Fatalf("ForTest: fatal %q, %d cleanups", tb.fatal, len(tb.cleanups))
	}
	resp, err := s.Client().Get(s.URL() + PathJWKS)
	if err != nil {
		t.Fatalf("ForTest's server does not serve: %v", err)
	}
	resp.Body.Close()
	if raw := s.MintForTest(tb, nil); raw == "" || tb.fatal != "" {
		t.Fatalf("MintForTest: %q, fatal %q", raw, tb.fatal)
	}
	s.MintForTest(tb, nil, WithKID("nope"))
	if tb.fatal == "" {
		t.Fatal("MintForTest with an unknown kid did not end the test")
	}
	tb.cleanups[0]()
	if _, err := s.Client().Get(s.URL() + PathJWKS); err == nil {
		t.Fatal("the server still serves after the cleanup")
	}

	bad := &fakeTB{}
	if ForTest(bad, Options{Clients: []Client{{}}}) != nil || bad.fatal == "" {
		t.Fatal("ForTest with an invalid client did not end the test")
	}
}
