package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// The gateway signs assertions with golang-jwt; these tests check them the
// way a backend would, with go-jose (a library the plugin does not sign
// with) and the JWKS fetched over HTTP from the gateway's own endpoint.

const (
	assertionIssuer = "https://gw.example.test"
	jwksPath        = "/.well-known/edgeauth/jwks.json"
	discoveryPath   = "/.well-known/edgeauth/openid-configuration"
)

// withStorage puts `storage file_system <dir>` into a Caddyfile's global
// options.
func withStorage(caddyfile, dir string) string {
	return strings.Replace(caddyfile, "{\n", "{\n\tstorage file_system "+dir+"\n", 1)
}

// assertionBlock is the global `assertion { … }` block.
func assertionBlock(lines ...string) string {
	return "\t\tassertion {\n\t\t\tissuer " + assertionIssuer + "\n\t\t\t" + strings.Join(lines, "\n\t\t\t") + "\n\t\t}"
}

// assertionSites is a site with four routes: the default audience (with a
// public prefix), a fixed audience, a renamed assertion header, and a
// route without assertion whose strip prefixes do not cover X-Auth-.
func (e *env) assertionSites() string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	handle /orders/* {
		edgeauth demo {
			assertion https://orders.internal
		}
		reverse_proxy %[2]s
	}
	handle /renamed/* {
		edgeauth demo {
			assertion
			header X-Identity {http.auth.assertion}
			header -X-Auth-Assertion
		}
		reverse_proxy %[2]s
	}
	handle /plain/* {
		edgeauth demo {
			strip_prefix X-Custom-
		}
		reverse_proxy %[2]s
	}
	handle {
		edgeauth demo {
			assertion
			public /pub/*
		}
		reverse_proxy %[2]s
	}
}
`, e.port, e.upstream)
}

// startAssertion starts Caddy with the assertion block and the sites on a
// storage folder and waits for the provider's keys.
func (e *env) startAssertion(storage string, block string) string {
	e.t.Helper()
	e.start(withStorage(e.globals(e.providerBlock("demo")+"\n"+block), storage) + e.assertionSites())
	alice := e.aliceToken()
	waitFor(e.t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/plain/ready", alice)
		return resp.StatusCode == http.StatusOK
	})
	return alice
}

// fetchJWKS gets a gateway's JWKS over HTTP and parses it with go-jose.
func fetchJWKS(t testing.TB, c *http.Client, base string) jose.JSONWebKeySet {
	t.Helper()
	resp, body, err := fetch(c, base+jwksPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s", jwksPath, resp.StatusCode, body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("the JWKS does not parse with go-jose: %v: %s", err, body)
	}
	return set
}

// verifyAssertion checks jws as a backend does: signature against set, iss,
// aud and exp at the time given; it returns the claims and the kid.
func verifyAssertion(jws string, set jose.JSONWebKeySet, aud string, at time.Time) (map[string]any, string, error) {
	tok, err := josejwt.ParseSigned(jws, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256, jose.PS256})
	if err != nil {
		return nil, "", err
	}
	if tok.Headers[0].ExtraHeaders["typ"] != "JWT" {
		return nil, "", fmt.Errorf("typ %v", tok.Headers[0].ExtraHeaders["typ"])
	}
	var std josejwt.Claims
	var all map[string]any
	if err := tok.Claims(set, &std, &all); err != nil {
		return nil, "", err
	}
	if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: assertionIssuer, AnyAudience: josejwt.Audience{aud}, Time: at}, 0); err != nil {
		return nil, "", err
	}
	return all, tok.Headers[0].KeyID, nil
}

// kidOf reads the kid from a JWS header without verifying it.
func kidOf(t testing.TB, jws string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[0])
	if err != nil {
		t.Fatalf("not a compact JWS: %q", jws)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func TestAssertionVerifiedByIndependentLibrary(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	alice := e.startAssertion(storage, assertionBlock())
	origin := fmt.Sprintf("http://127.0.0.1:%d", e.port)

	// Published before the rules and without a credential.
	set := fetchJWKS(t, e.client, origin)
	if len(set.Keys) != 1 || set.Keys[0].Algorithm != "ES256" || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS %+v: want one public ES256 signing key", set.Keys)
	}
	resp, body := e.get(discoveryPath, "")
	var doc map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("discovery: %d %s", resp.StatusCode, body)
	}
	// jwks_uri is under the issuer: never built from the request's Host.
	if doc["issuer"] != assertionIssuer || doc["jwks_uri"] != assertionIssuer+jwksPath {
		t.Fatalf("discovery %s: want issuer %s and jwks_uri under it", body, assertionIssuer)
	}

	got := e.upstreamSaw(e.get("/app", alice))
	jws := got.header("X-Auth-Assertion")
	claims, kid, err := verifyAssertion(jws, set, origin, time.Now())
	if err != nil {
		t.Fatalf("go-jose refused the gateway's assertion: %v", err)
	}
	if kid != set.Keys[0].KeyID {
		t.Fatalf("kid %s, JWKS %s", kid, set.Keys[0].KeyID)
	}
	want := map[string]any{"sub": "2000000000000002", "idp": e.idp.Issuer(), "provider": "demo",
		"scope": "openid aliuid profile email /acs/alidns", "aid": demoidp.DemoAccountID, "uid": "2000000000000002",
		"type": "user", "upn": "alice@example.onaliyun.com", "name": "Alice Liddell", "email": "alice@example.com"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %#v, want %#v", k, claims[k], v)
		}
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 120 {
		t.Errorf("exp - iat = %v, want the default lifetime 120", exp-iat)
	}

	// Another route's audience is refused by the verifier, both ways.
	orders := e.upstreamSaw(e.get("/orders/1", alice)).header("X-Auth-Assertion")
	if _, _, err := verifyAssertion(orders, set, "https://orders.internal", time.Now()); err != nil {
		t.Fatalf("the fixed-audience assertion does not verify: %v", err)
	}
	if _, _, err := verifyAssertion(orders, set, origin, time.Now()); !errors.Is(err, josejwt.ErrInvalidAudience) {
		t.Fatalf("the /orders assertion verified for the origin's audience: %v", err)
	}
	if _, _, err := verifyAssertion(jws, set, "https://orders.internal", time.Now()); !errors.Is(err, josejwt.ErrInvalidAudience) {
		t.Fatalf("the origin's assertion verified for https://orders.internal: %v", err)
	}
	// An expired one is refused.
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	if _, _, err := verifyAssertion(jws, set, origin, exp.Add(time.Second)); !errors.Is(err, josejwt.ErrExpired) {
		t.Fatalf("the assertion verified after its exp: %v", err)
	}

	// A repeated caller gets the cached assertion: no new signature.
	before := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_assertion_signatures_total")
	for i := 0; i < 5; i++ {
		if again := e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion"); again != jws {
			t.Fatal("a repeated caller got a new assertion")
		}
	}
	if after := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_assertion_signatures_total"); after != before {
		t.Fatalf("signatures went from %v to %v for a repeated caller", before, after)
	}

	// Renamed header.
	renamed := e.upstreamSaw(e.get("/renamed/x", alice))
	if renamed.header("X-Auth-Assertion") != "" {
		t.Error("X-Auth-Assertion reached the upstream on a route that removes it")
	}
	if _, _, err := verifyAssertion(renamed.header("X-Identity"), set, origin, time.Now()); err != nil {
		t.Errorf("the renamed assertion header does not verify: %v", err)
	}

	// The admin API shows the key and its age.
	status, adminBody := e.adminCall(http.MethodGet, "/edgeauth/assertion")
	var admin struct {
		Issuer string `json:"issuer"`
		Keys   []struct {
			Kid     string   `json:"kid"`
			Age     *float64 `json:"age_seconds"`
			Signing bool     `json:"signing"`
		} `json:"keys"`
	}
	if status != http.StatusOK || json.Unmarshal(adminBody, &admin) != nil || len(admin.Keys) != 1 ||
		admin.Keys[0].Kid != kid || admin.Keys[0].Age == nil || !admin.Keys[0].Signing || admin.Issuer != assertionIssuer {
		t.Fatalf("admin /edgeauth/assertion: %d %s", status, adminBody)
	}
	if strings.Contains(string(adminBody), "PRIVATE") || strings.Contains(string(adminBody), `"d"`) {
		t.Fatal("the admin API shows private key material")
	}

	// HEAD answers, other methods do not.
	req, _ := http.NewRequest(http.MethodHead, e.url(jwksPath), nil)
	if resp, _ := e.do(req); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD %s: %d", jwksPath, resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, e.url(jwksPath), nil)
	if resp, _ := e.do(req); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", jwksPath, resp.StatusCode)
	}
}

// A client-sent X-Auth-Assertion, in any spelling, named in Connection, or
// on a route whose strip prefixes do not cover X-Auth-, never reaches the
// upstream; on an assertion route the upstream gets only the gateway's.
func TestAssertionClientCopyNeverReachesUpstream(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	e.serverOpts = append(e.serverOpts, "expected_underscore_headers x_auth_*", "expected_dot_headers x.auth.*")
	alice := e.startAssertion(storage, assertionBlock())
	set := fetchJWKS(t, e.client, fmt.Sprintf("http://127.0.0.1:%d", e.port))

	// A real assertion of this gateway, for another audience: replaying it
	// is the strongest forgery a client can attempt.
	stolen := e.upstreamSaw(e.get("/orders/1", alice)).header("X-Auth-Assertion")
	spoofs := [][]string{
		{"X-Auth-Assertion: " + stolen},
		{"x-auth-assertion: " + stolen},
		{"X_Auth_Assertion: " + stolen},
		{"x.auth.assertion: " + stolen},
		{"X-AUTH-ASSERTION: " + stolen, "Connection: X-Auth-Assertion"},
	}
	for _, path := range []string{"/pub/x", "/plain/x", "/app", "/renamed/x"} {
		for _, spoof := range spoofs {
			bearer := alice
			if path == "/pub/x" {
				bearer = ""
			}
			got := e.upstreamSaw(e.get(path, bearer, spoof...))
			for name, values := range got.Headers {
				for _, v := range values {
					if v == stolen {
						t.Errorf("%s with %q: the client's assertion reached the upstream as %s", path, spoof[0][:strings.Index(spoof[0], ":")], name)
					}
				}
			}
			if path == "/app" {
				if _, _, err := verifyAssertion(got.header("X-Auth-Assertion"), set, fmt.Sprintf("http://127.0.0.1:%d", e.port), time.Now()); err != nil {
					t.Errorf("with a spoofed copy the gateway's assertion is missing or wrong: %v", err)
				}
			}
			if path == "/pub/x" || path == "/plain/x" {
				if got.header("X-Auth-Assertion") != "" {
					t.Errorf("%s: an assertion reached the upstream of a route without one", path)
				}
			}
		}
	}
	// A token whose claims carry control bytes is signed with the raw
	// values JSON-escaped, never trimmed into another value.
	tricky := e.mint(map[string]any{"sub": "carol", "name": "A\r\nX-Auth-Subject: bob", "type": "acc\x00ount", "scope": "openid"})
	got := e.upstreamSaw(e.get("/app", tricky))
	claims, _, err := verifyAssertion(got.header("X-Auth-Assertion"), set, fmt.Sprintf("http://127.0.0.1:%d", e.port), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claims["name"] != "A\r\nX-Auth-Subject: bob" || claims["type"] != "acc\x00ount" {
		t.Fatalf("claims %q: want the raw values", claims)
	}
	// The plain headers drop such values altogether.
	if got.header("X-Auth-Name") != "" || got.header("X-Auth-User-Type") != "" || got.header("X-Auth-Subject") != "carol" {
		t.Fatalf("headers %v", got.Headers)
	}
}

// A route with `assertion` and no global block does not load, and the
// error says what to add.
func TestAssertionWithoutGlobalBlockRefused(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	msg := loadError(t, e.globals(e.providerBlock("demo"))+e.site("edgeauth demo", "\t\tassertion"))
	if !strings.Contains(msg, "assertion") || !strings.Contains(msg, "add one") {
		t.Fatalf("load error %q: want one naming assertion and the fix", msg)
	}
}

// The same kid after a restart on the same storage.
func TestAssertionKeySurvivesRestart(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	alice := e.startAssertion(storage, assertionBlock())
	first := kidOf(t, e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion"))
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	e.port = freePort(t)
	alice = e.startAssertion(storage, assertionBlock())
	jws := e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion")
	if kid := kidOf(t, jws); kid != first {
		t.Fatalf("after a restart the kid is %s, before %s", kid, first)
	}
	if set := fetchJWKS(t, e.client, fmt.Sprintf("http://127.0.0.1:%d", e.port)); len(set.Keys) != 1 || set.Keys[0].KeyID != first {
		t.Fatalf("JWKS after restart %+v", set.Keys)
	}
}

// Rotation with a short rotate: the next key is published before it signs,
// new assertions carry it, and an assertion of the old key still verifies
// while it has not expired.
func TestAssertionRotation(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	alice := e.startAssertion(storage, assertionBlock("lifetime 30s", "rotate 30s"))
	origin := fmt.Sprintf("http://127.0.0.1:%d", e.port)
	first := e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion")
	kid1 := kidOf(t, first)
	last := first
	deadline := time.Now().Add(70 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no assertion with a new kid within 70s of a 30s rotation")
		}
		time.Sleep(time.Second)
		jws := e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion")
		if kidOf(t, jws) == kid1 {
			last = jws
			continue
		}
		set := fetchJWKS(t, e.client, origin)
		if _, kid, err := verifyAssertion(jws, set, origin, time.Now()); err != nil || kid == kid1 {
			t.Fatalf("the new assertion (kid %s) does not verify: %v", kid, err)
		}
		if _, _, err := verifyAssertion(last, set, origin, time.Now()); err != nil {
			t.Fatalf("the last assertion of the old key does not verify after rotation: %v", err)
		}
		if len(set.Keys) != 2 {
			t.Fatalf("%d keys published right after rotation, want the new and the old", len(set.Keys))
		}
		return
	}
}

// key_file in each algorithm: the operator's key signs and is published.
func TestAssertionKeyFile(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	keys := []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ec}, {"EdDSA", ed}, {"RS256", rs}, {"PS256", rs}}
	e := newEnv(t, demoidp.Options{})
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			t.Fatal(err)
		}
		path := writeFile(t, "assertion.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
		alice := e.startAssertion(t.TempDir(), assertionBlock("algorithm "+k.alg, "key_file "+path))
		origin := fmt.Sprintf("http://127.0.0.1:%d", e.port)
		set := fetchJWKS(t, e.client, origin)
		if len(set.Keys) != 1 || set.Keys[0].Algorithm != k.alg {
			t.Fatalf("%s: JWKS %+v", k.alg, set.Keys)
		}
		pub, _ := set.Keys[0].Key.(crypto.PublicKey)
		if eq, ok := k.key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
			t.Fatalf("%s: the published key is not the key file's", k.alg)
		}
		jws := e.upstreamSaw(e.get("/app", alice)).header("X-Auth-Assertion")
		if _, _, err := verifyAssertion(jws, set, origin, time.Now()); err != nil {
			t.Fatalf("%s: %v", k.alg, err)
		}
	}
	// A key that does not fit the algorithm is refused at load.
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	path := writeFile(t, "ec.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	msg := loadError(t, e.globals(e.providerBlock("demo")+"\n"+assertionBlock("algorithm RS256", "key_file "+path))+e.assertionSites())
	if !strings.Contains(msg, "assertion key_file") || !strings.Contains(msg, "an EC key cannot sign RS256") {
		t.Fatalf("load error %q", msg)
	}
}

// assertionNode is one gateway process of the shared-storage test.
type assertionNode struct {
	base   string
	output *tailBuffer
	exited chan struct{}
}

// startAssertionNode runs the caddy binary on a Caddyfile; the process is
// killed when the test ends and its output logged when the test failed.
func startAssertionNode(t *testing.T, bin, caddyfile string) *assertionNode {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, "run", "--config", writeFile(t, "Caddyfile", caddyfile), "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	n := &assertionNode{output: &tailBuffer{max: 32 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = n.output, n.output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("gateway output:\n%s", n.output)
		}
	})
	return n
}

// Two Caddy processes sharing one storage folder, asked for their first
// assertion at the same moment, end with one key: they publish the same
// JWKS and each one's assertions verify with the other's.
func TestAssertionFleetSharesKeys(t *testing.T) {
	bin := buildCaddy(t)
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	nodes := make([]*assertionNode, 2)
	for i := range nodes {
		port := freePort(t)
		cfg := withStorage(e.globals(e.providerBlock("demo")+"\n"+assertionBlock()), storage)
		cfg = strings.Replace(cfg, fmt.Sprintf("admin 127.0.0.1:%d", e.admin), "admin off", 1)
		cfg += fmt.Sprintf(`http://127.0.0.1:%d {
	handle /ready {
		edgeauth demo
		reverse_proxy %[2]s
	}
	handle {
		edgeauth demo {
			assertion https://api.internal
		}
		reverse_proxy %[2]s
	}
}
`, port, e.upstream)
		nodes[i] = startAssertionNode(t, bin, cfg)
		nodes[i].base = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	alice := e.aliceToken()
	auth := http.Header{"Authorization": {"Bearer " + alice}}
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("gateway %d with the provider's keys", i+1), 20*time.Second, func() bool {
			select {
			case <-n.exited:
				t.Fatalf("gateway %d exited", i+1)
			default:
			}
			resp, _, err := fetch(e.client, n.base+"/ready", auth)
			return err == nil && resp.StatusCode == http.StatusOK
		})
	}
	// The first assertions, on both at once: a generation race.
	jws := make([]string, len(nodes))
	failures := concurrently(len(nodes), func(i int) string {
		resp, body, err := fetch(e.client, nodes[i].base+"/x", auth)
		if err != nil {
			return err.Error()
		}
		var got echo
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			return fmt.Sprintf("gateway %d: %d %s", i+1, resp.StatusCode, body)
		}
		jws[i] = got.header("X-Auth-Assertion")
		return ""
	})
	if len(failures) > 0 {
		t.Fatal(failures)
	}
	sets := []jose.JSONWebKeySet{fetchJWKS(t, e.client, nodes[0].base), fetchJWKS(t, e.client, nodes[1].base)}
	if len(sets[0].Keys) != 1 || len(sets[1].Keys) != 1 || sets[0].Keys[0].KeyID != sets[1].Keys[0].KeyID {
		t.Fatalf("the gateways publish different key sets: %v and %v", sets[0].Keys, sets[1].Keys)
	}
	for i := range nodes {
		other := sets[1-i]
		if _, _, err := verifyAssertion(jws[i], other, "https://api.internal", time.Now()); err != nil {
			t.Errorf("gateway %d's assertion does not verify with gateway %d's JWKS: %v", i+1, 2-i, err)
		}
	}
}

// The default audience is the origin Caddy routed on: a Host header picks a
// site (and so an audience) only among the sites that serve it, in any
// case; a fixed audience ignores the Host; a Host no site serves reaches no
// upstream and gets no assertion.
func TestAssertionAudienceFollowsRoutedHost(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	site := func(host, body string) string {
		return fmt.Sprintf("http://%s:%d {\n\tedgeauth demo {\n\t\t%s\n\t}\n\treverse_proxy %s\n}\n", host, e.port, body, e.upstream)
	}
	e.start(withStorage(e.globals(e.providerBlock("demo")+"\n"+assertionBlock()), storage) +
		site("a.test", "assertion") + site("b.test", "assertion https://b.internal"))
	alice := e.aliceToken()
	send := func(host string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, e.url("/x"), nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+alice)
		return e.do(req)
	}
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := send(fmt.Sprintf("a.test:%d", e.port))
		return resp.StatusCode == http.StatusOK
	})
	resp, body := send(fmt.Sprintf("a.test:%d", e.port))
	_ = resp
	req, _ := http.NewRequest(http.MethodGet, e.url(jwksPath), nil)
	req.Host = fmt.Sprintf("a.test:%d", e.port)
	jresp, jbody := e.do(req)
	var set jose.JSONWebKeySet
	if jresp.StatusCode != http.StatusOK || json.Unmarshal(jbody, &set) != nil {
		t.Fatalf("JWKS: %d %s", jresp.StatusCode, jbody)
	}
	originA := fmt.Sprintf("http://a.test:%d", e.port)
	for _, host := range []string{fmt.Sprintf("a.test:%d", e.port), fmt.Sprintf("A.TEST:%d", e.port)} {
		resp, body = send(host)
		jws := e.upstreamSaw(resp, body).header("X-Auth-Assertion")
		if _, _, err := verifyAssertion(jws, set, originA, time.Now()); err != nil {
			t.Fatalf("Host %s: the assertion is not for %s: %v", host, originA, err)
		}
		if _, _, err := verifyAssertion(jws, set, "https://b.internal", time.Now()); !errors.Is(err, josejwt.ErrInvalidAudience) {
			t.Fatalf("Host %s: the assertion verified for b's audience: %v", host, err)
		}
	}
	resp, body = send(fmt.Sprintf("b.test:%d", e.port))
	jws := e.upstreamSaw(resp, body).header("X-Auth-Assertion")
	if _, _, err := verifyAssertion(jws, set, "https://b.internal", time.Now()); err != nil {
		t.Fatalf("the fixed audience: %v", err)
	}
	for _, host := range []string{"127.0.0.1", fmt.Sprintf("evil.test:%d", e.port), fmt.Sprintf("b.internal:%d", e.port)} {
		resp, body = send(host)
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "X-Auth-Assertion") {
			t.Fatalf("Host %s, served by no site, got an assertion upstream: %s", host, body)
		}
	}
}

// A key set altered in storage is never used: the route answers 503 with
// Retry-After (reason assertion_unavailable), the JWKS is not served, and
// the file is left for the operator.
func TestAssertionTamperedStorageFailsClosed(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{})
	sum := sha256.Sum256([]byte(assertionIssuer))
	keyFile := filepath.Join(storage, "edgeauth", "assertion", "es256-"+hex.EncodeToString(sum[:8])+".json")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	planted := fmt.Sprintf(`{"version":1,"issuer":%q,"alg":"ES256","keys":[{"kid":"attacker-chosen","created":%q,"not_before":%q,"private_key":%q}]}`,
		assertionIssuer, time.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err := os.WriteFile(keyFile, []byte(planted), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := e.startAssertion(storage, assertionBlock())
	before := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_decisions_total", "reason=assertion_unavailable")
	resp, body := e.get("/app", alice)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || strings.Contains(string(body), "X-Auth") {
		t.Fatalf("with a tampered key set: %d %s, want 503 with Retry-After", resp.StatusCode, body)
	}
	if after := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_decisions_total", "reason=assertion_unavailable"); after != before+1 {
		t.Fatalf("assertion_unavailable grew by %v, want 1", after-before)
	}
	if resp, _ := e.get(jwksPath, ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("JWKS with a tampered key set: %d", resp.StatusCode)
	}
	if got, _ := os.ReadFile(keyFile); string(got) != planted {
		t.Fatal("the tampered key set was overwritten")
	}
	// Public routes and routes without assertion are not affected.
	if resp, _ := e.get("/plain/x", alice); resp.StatusCode != http.StatusOK {
		t.Fatalf("a route without assertion: %d", resp.StatusCode)
	}
}

// A DPoP-bound caller's assertion repeats its binding as `cnf` (RFC 7800),
// so a backend can see that the caller proved possession of that key; a
// bearer caller's has none, and the two never share a cached assertion.
func TestAssertionCarriesTheTokenBinding(t *testing.T) {
	// Made before the env: cleanups run last-in, first-out, so the folder is
	// removed only after Caddy (and its key rotation) has stopped.
	storage := t.TempDir()
	e := newEnv(t, demoidp.Options{AutoApprove: true})
	alice := e.startAssertion(storage, assertionBlock())
	origin := fmt.Sprintf("http://127.0.0.1:%d", e.port)
	set := fetchJWKS(t, e.client, origin)

	client := newDPoPClient(t)
	tok, typ := dpopTokenFor(t, e.idp, client)
	if typ != "DPoP" {
		t.Fatalf("the provider issued a %q token, want a DPoP-bound one", typ)
	}
	got := e.upstreamSaw(e.dpopRequest("GET", "/app", "DPoP", tok, []string{client.proof("GET", e.url("/app"), tok)}))
	if got.header("X-Auth-Token-Binding") != "dpop" {
		t.Fatalf("X-Auth-Token-Binding = %q, want dpop", got.header("X-Auth-Token-Binding"))
	}
	claims, _, err := verifyAssertion(got.header("X-Auth-Assertion"), set, origin, time.Now())
	if err != nil {
		t.Fatalf("the DPoP caller's assertion does not verify: %v", err)
	}
	if cnf, _ := claims["cnf"].(map[string]any); cnf == nil || cnf["jkt"] != client.jkt {
		t.Fatalf("cnf = %#v, want {jkt: %s}", claims["cnf"], client.jkt)
	}

	plain := e.upstreamSaw(e.get("/app", alice))
	claims, _, err = verifyAssertion(plain.header("X-Auth-Assertion"), set, origin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, bound := claims["cnf"]; bound {
		t.Fatalf("a bearer caller's assertion carries cnf: %#v", claims["cnf"])
	}
}
