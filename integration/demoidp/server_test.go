package demoidp

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDiscoveryConsistentWithIssuer(t *testing.T) {
	s := startIDP(t, Options{})
	if !strings.HasPrefix(s.Issuer(), "https://127.0.0.1:") || strings.HasSuffix(s.Issuer(), "/") {
		t.Fatalf("issuer %q: want https://127.0.0.1:PORT without trailing slash", s.Issuer())
	}
	var doc map[string]any
	resp := getJSON(t, s.Client(), s.URL()+PathDiscovery, &doc)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("discovery: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if doc["issuer"] != s.Issuer() {
		t.Fatalf("issuer %v, want %s", doc["issuer"], s.Issuer())
	}
	for _, ep := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"end_session_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		v, _ := doc[ep].(string)
		if !strings.HasPrefix(v, s.Issuer()+"/") {
			t.Errorf("%s = %q, not under the issuer", ep, v)
		}
	}
	has := func(field string, want ...string) {
		list, _ := doc[field].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				t.Errorf("%s = %v, lacks %q", field, list, w)
			}
		}
	}
	has("scopes_supported", "openid", "aliuid", "profile", "/acs/alidns")
	has("response_types_supported", "code")
	has("code_challenge_methods_supported", "S256", "plain")
	has("token_endpoint_auth_methods_supported", "client_secret_post", "client_secret_basic")
	has("id_token_signing_alg_values_supported", "RS256")
	if doc["authorization_response_iss_parameter_supported"] != true {
		t.Error("authorization_response_iss_parameter_supported is not true")
	}
	// Every advertised endpoint is actually served.
	jwks, _ := doc["jwks_uri"].(string)
	var set map[string]any
	if r := getJSON(t, s.Client(), jwks, &set); r.StatusCode != http.StatusOK {
		t.Fatalf("jwks_uri answered %d", r.StatusCode)
	}
}

func TestJWKSListsRotatedKeys(t *testing.T) {
	s := startIDP(t, Options{})
	first := s.CurrentKID()
	second := s.RotateKey()
	if second == first || s.CurrentKID() != second {
		t.Fatalf("RotateKey: current %q, first %q, second %q", s.CurrentKID(), first, second)
	}
	ec := s.AddKey("ES256")
	ed := s.AddKey("EdDSA")
	if s.CurrentKID() != second {
		t.Fatal("AddKey changed the current key")
	}
	var set struct{ Keys []map[string]string }
	resp := getJSON(t, s.Client(), s.URL()+PathJWKS, &set)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
		t.Errorf("Cache-Control %q, want max-age=300", cc)
	}
	got := map[string]map[string]string{}
	for _, k := range set.Keys {
		got[k["kid"]] = k
		if k["use"] != "sig" || k["alg"] == "" {
			t.Errorf("key %v lacks use=sig or alg", k)
		}
		if _, private := k["d"]; private {
			t.Fatalf("JWKS leaks a private key: %v", k)
		}
	}
	for kid, alg := range map[string]string{first: "RS256", second: "RS256", ec: "ES256", ed: "EdDSA"} {
		if got[kid]["alg"] != alg {
			t.Errorf("kid %s: alg %q, want %s (JWKS %v)", kid, got[kid]["alg"], alg, set.Keys)
		}
	}
	if !s.RemoveKey(first) || s.RemoveKey(first) {
		t.Fatal("RemoveKey should report true once, then false")
	}
	getJSON(t, s.Client(), s.URL()+PathJWKS, &set)
	for _, k := range set.Keys {
		if k["kid"] == first {
			t.Fatal("removed key still published")
		}
	}
	if len(set.Keys) != 3 {
		t.Fatalf("want 3 keys after removal, got %d", len(set.Keys))
	}
	var doc map[string]any
	getJSON(t, s.Client(), s.URL()+PathDiscovery, &doc)
	if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 3 {
		t.Errorf("signing algs %v, want RS256, ES256, EdDSA", algs)
	}
}

func TestCAThumbprintMatchesHandshake(t *testing.T) {
	s := startIDP(t, Options{})
	conn, err := tls.Dial("tcp", s.Addr(), s.TLSConfig())
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	if len(st.PeerCertificates) != 2 {
		t.Fatalf("server sent %d certificates, want leaf + CA", len(st.PeerCertificates))
	}
	top := st.PeerCertificates[len(st.PeerCertificates)-1]
	if !top.IsCA {
		t.Fatal("last certificate in the chain is not the CA")
	}
	sum := sha1.Sum(top.Raw)
	if got := hex.EncodeToString(sum[:]); got != s.CAThumbprint() {
		t.Fatalf("thumbprint of the CA seen in the handshake %s, CAThumbprint %s", got, s.CAThumbprint())
	}
	if len(s.CAThumbprint()) != 40 || strings.ToLower(s.CAThumbprint()) != s.CAThumbprint() {
		t.Fatalf("thumbprint %q is not 40 lowercase hex digits", s.CAThumbprint())
	}
	leaf := st.PeerCertificates[0]
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("leaf not valid for %s: %v", host, err)
		}
	}

	// The CA file works as a trust anchor on its own.
	path, err := s.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("CA file %s holds no PEM certificate", path)
	}
	c2, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake trusting only the CA file: %v", err)
	}
	c2.Close()
	if blk, _ := pem.Decode(s.CACertPEM()); blk == nil || hex.EncodeToString(sha1Sum(blk.Bytes)) != s.CAThumbprint() {
		t.Fatal("CACertPEM does not hold the thumbprinted CA")
	}
	// Without the CA the handshake fails.
	if c3, err := tls.Dial("tcp", s.Addr(), &tls.Config{}); err == nil {
		c3.Close()
		t.Fatal("handshake succeeded without trusting the demo CA")
	}
}

func sha1Sum(b []byte) []byte { s := sha1.Sum(b); return s[:] }

func TestPlainHTTP(t *testing.T) {
	s := startIDP(t, Options{PlainHTTP: true})
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || s.CAThumbprint() != "" || s.CACertPEM() != nil {
		t.Fatalf("plain HTTP server: URL %s, thumbprint %q", s.URL(), s.CAThumbprint())
	}
	var doc map[string]any
	getJSON(t, s.Client(), s.URL()+PathDiscovery, &doc)
	if doc["issuer"] != s.URL() {
		t.Fatalf("issuer %v, want %s", doc["issuer"], s.URL())
	}
}

func TestFaultsAndCounters(t *testing.T) {
	s := startIDP(t, Options{})
	c := s.Client()
	get := func(path string) int {
		resp, err := c.Get(s.URL() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get(PathDiscovery)
	get(PathJWKS)
	get(PathJWKS)
	if n := s.Counts(); n.Discovery != 1 || n.JWKS != 2 || n.Token != 0 {
		t.Fatalf("counts %+v", n)
	}
	s.SetDown(true)
	for _, p := range []string{PathDiscovery, PathJWKS, PathUserinfo, PathToken, PathAuthorize} {
		if code := get(p); code != http.StatusServiceUnavailable {
			t.Errorf("%s while down: %d, want 503", p, code)
		}
	}
	if n := s.Counts(); n.Discovery != 2 || n.JWKS != 3 || n.Userinfo != 1 || n.Token != 1 || n.Authorize != 1 {
		t.Fatalf("requests while down must be counted: %+v", n)
	}
	s.SetDown(false)
	if code := get(PathDiscovery); code != http.StatusOK {
		t.Fatalf("after SetDown(false): %d", code)
	}
	s.ResetCounts()
	if n := s.Counts(); n != (Counters{}) {
		t.Fatalf("ResetCounts left %+v", n)
	}

	s.SetHang(2 * time.Second)
	quick := s.Client()
	quick.Timeout = 200 * time.Millisecond
	start := time.Now()
	if resp, err := quick.Get(s.URL() + PathJWKS); err == nil {
		resp.Body.Close()
		t.Fatal("a hung endpoint answered before the client timeout")
	}
	if time.Since(start) > 1500*time.Millisecond {
		t.Fatal("client timeout did not cut the hang short")
	}
	s.SetHang(100 * time.Millisecond)
	start = time.Now()
	if code := get(PathJWKS); code != http.StatusOK || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("short hang: status %d after %v", code, time.Since(start))
	}
	s.SetHang(0)
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"client without redirects": {Clients: []Client{{ID: "x", Secret: "y"}}},
		"duplicate client":         {Clients: []Client{DefaultClient(), DefaultClient()}},
		"user without subject":     {Users: []User{{Username: "u"}}},
	} {
		if s, err := New(o); err == nil {
			s.Close()
			t.Errorf("%s: New accepted it", name)
		}
	}
}
