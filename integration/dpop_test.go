package integration

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// DPoP (RFC 9449) end to end: proofs are made by lestrrat-go/jwx, a JOSE
// implementation the plugin does not use, against tokens the demo provider
// binds to the proof key (at its token endpoint, or through Mint).

// dpopClient is a DPoP client: an ES256 key and proofs signed with jwx.
type dpopClient struct {
	t    *testing.T
	priv *ecdsa.PrivateKey
	pub  jwk.Key
	jkt  string // RFC 7638 thumbprint, computed by jwx
}

func newDPoPClient(t *testing.T) *dpopClient {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopClient{t: t, priv: priv, pub: pub, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proofEdit changes a proof's header or claims before it is signed.
type proofEdit func(h jws.Headers, claims map[string]any)

// athOf is RFC 9449's ath, computed here independently of the plugin.
func athOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func randomJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// claims are a fresh proof's claims for method, htu and token.
func proofClaims(method, htu, token string) map[string]any {
	c := map[string]any{"jti": randomJTI(), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if token != "" {
		c["ath"] = athOf(token)
	}
	return c
}

// proof signs a DPoP proof with jwx.
func (c *dpopClient) proof(method, htu, token string, edits ...proofEdit) string {
	c.t.Helper()
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "dpop+jwt")
	_ = h.Set(jws.JWKKey, c.pub)
	claims := proofClaims(method, htu, token)
	for _, e := range edits {
		e(h, claims)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), c.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(out)
}

// unsignedProof is a proof with alg none and an empty signature (jwx will
// not make one).
func (c *dpopClient) unsignedProof(method, htu, token string) string {
	pubJSON, _ := json.Marshal(c.pub)
	hdr := `{"typ":"dpop+jwt","alg":"none","jwk":` + string(pubJSON) + `}`
	payload, _ := json.Marshal(proofClaims(method, htu, token))
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(hdr)) + "." + enc(payload) + "."
}

// hmacProof is a proof signed with HS256 whose jwk is the symmetric key.
func (c *dpopClient) hmacProof(method, htu, token string) string {
	c.t.Helper()
	secret := []byte("a symmetric key is no proof of possession")
	k, err := jwk.Import(secret)
	if err != nil {
		c.t.Fatal(err)
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, "dpop+jwt")
	_ = h.Set(jws.JWKKey, k)
	payload, _ := json.Marshal(proofClaims(method, htu, token))
	out, err := jws.Sign(payload, jws.WithKey(jwa.HS256(), secret, jws.WithProtectedHeaders(h)))
	if err != nil {
		c.t.Fatal(err)
	}
	return string(out)
}

// privateJWK puts the client's private key in the proof's jwk header.
func (c *dpopClient) privateJWK() proofEdit {
	return func(h jws.Headers, _ map[string]any) {
		k, err := jwk.Import(c.priv)
		if err != nil {
			c.t.Fatal(err)
		}
		_ = h.Set(jws.JWKKey, k)
	}
}

// dpopRequest sends method path with `Authorization: <scheme> <token>`, the
// given DPoP header values and extra headers ("Name: value").
func (e *env) dpopRequest(method, path, scheme, token string, proofs []string, headers ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url(path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+token)
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(name, strings.TrimSpace(value))
	}
	return e.do(req)
}

// challengeOf returns the WWW-Authenticate field of a scheme ("" if none).
func challengeOf(resp *http.Response, scheme string) string {
	for _, v := range resp.Header.Values("WWW-Authenticate") {
		if strings.HasPrefix(v, scheme+" ") {
			return v
		}
	}
	return ""
}

// assertDPoPRefused checks a 401 with the JSON error code, a DPoP challenge
// carrying dpopErr ("" for a challenge without error) and, when bearer is
// set, a Bearer challenge too; and that no proof or token is echoed.
func assertDPoPRefused(t *testing.T, resp *http.Response, body []byte, code, dpopErr string, bearer bool, secrets ...string) {
	t.Helper()
	assertError(t, resp, body, http.StatusUnauthorized, code)
	d := challengeOf(resp, "DPoP")
	if !strings.HasPrefix(d, `DPoP algs="`) {
		t.Fatalf("no DPoP challenge with algs: %q", resp.Header.Values("WWW-Authenticate"))
	}
	if dpopErr != "" && !strings.Contains(d, `error="`+dpopErr+`"`) {
		t.Fatalf("DPoP challenge %q lacks error=%q", d, dpopErr)
	}
	if got := challengeOf(resp, "Bearer") != ""; got != bearer {
		t.Fatalf("Bearer challenge present = %v, want %v: %q", got, bearer, resp.Header.Values("WWW-Authenticate"))
	}
	all := string(body) + strings.Join(resp.Header.Values("WWW-Authenticate"), "\n")
	for _, s := range secrets {
		if s != "" && strings.Contains(all, s) {
			t.Fatal("the answer echoes the token or proof")
		}
	}
}

// dpopTokenFor runs the code flow at the demo provider with a DPoP proof at
// the token endpoint and returns the bound access token (JWT or opaque, as
// the provider issues them) and the token_type it stated.
func dpopTokenFor(t *testing.T, idp *demoidp.Server, c *dpopClient) (string, string) {
	t.Helper()
	hc := idp.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	verifier := strings.Repeat("v", 50)
	q := url.Values{
		"client_id": {demoidp.DefaultClientID}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"response_type": {"code"}, "scope": {"openid profile"}, "state": {"s"}, "login_hint": {"alice"},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"},
	}
	resp, err := hc.Get(idp.Issuer() + demoidp.PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:1/cb"},
		"code_verifier": {verifier}, "client_id": {demoidp.DefaultClientID}, "client_secret": {demoidp.DefaultClientSecret},
	}
	req, _ := http.NewRequest(http.MethodPost, idp.Issuer()+demoidp.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", c.proof(http.MethodPost, idp.Issuer()+demoidp.PathToken, ""))
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("token response: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken, out.TokenType
}

// TestDPoPBoundTokens: a token the demo provider bound to a jwx client's key
// passes with a fresh proof on every request (the upstream sees
// X-Auth-Token-Binding: dpop), and every attack on the proof or the binding
// is answered 401 with the right challenge before the upstream is reached.
func TestDPoPBoundTokens(t *testing.T) {
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
	htu := e.url("/x")
	ok := func(t *testing.T, proof string, headers ...string) echo {
		t.Helper()
		return e.upstreamSaw(e.dpopRequest("GET", "/x", "DPoP", tok, []string{proof}, headers...))
	}

	used := alice.proof("GET", htu, tok)
	t.Run("valid proof, then a fresh one with the cached token", func(t *testing.T) {
		got := ok(t, used)
		if b := got.header("X-Auth-Token-Binding"); b != "dpop" {
			t.Fatalf("X-Auth-Token-Binding = %q, want dpop", b)
		}
		if s := got.header("X-Auth-Subject"); s == "" {
			t.Fatal("no X-Auth-Subject")
		}
		ok(t, alice.proof("GET", htu, tok))
		// The same URL in another spelling (RFC 3986 normalisation), with
		// a query and fragment, which htu comparison ignores.
		ok(t, alice.proof("GET", "HTTP"+strings.TrimSuffix(htu, "/x")[4:]+"/%78?ignored=query#frag", tok))
	})
	t.Run("unbound bearer token still passes, without a binding header", func(t *testing.T) {
		got := e.upstreamSaw(e.get("/x", plain, "X-Auth-Token-Binding: dpop"))
		if b := got.header("X-Auth-Token-Binding"); b != "" {
			t.Fatalf("a client's X-Auth-Token-Binding reached the upstream: %q", b)
		}
	})
	t.Run("DPoP named in Connection is dropped as hop-by-hop: no proof", func(t *testing.T) {
		// The gateway deletes fields the caller names in Connection before
		// anything reads them (identity.KeepConnectionOptions), so the
		// proof is gone and the request is refused: never accepted on a
		// proof the next hop would not see.
		proof := alice.proof("GET", htu, tok)
		resp, body := e.dpopRequest("GET", "/x", "DPoP", tok, []string{proof}, "Connection: DPoP")
		assertDPoPRefused(t, resp, body, "invalid_dpop_proof", "invalid_dpop_proof", true, tok, proof)
		ok(t, proof) // not used up by the refused request
	})

	mallory := newDPoPClient(t)
	other := e.mint(map[string]any{"sub": "alice"}, demoidp.WithJKT(alice.jkt))
	attacks := []struct {
		name    string
		scheme  string
		proofs  []string
		headers []string
		code    string // JSON error and DPoP challenge error
		bearer  bool   // Bearer challenge carries the error
	}{
		{"proof for another method", "DPoP", []string{alice.proof("POST", htu, tok)}, nil, "invalid_dpop_proof", false},
		{"proof for another URL", "DPoP", []string{alice.proof("GET", e.url("/y"), tok)}, nil, "invalid_dpop_proof", false},
		{"proof for another host named in X-Forwarded-Host", "DPoP", []string{alice.proof("GET", "http://evil.example/x", tok)},
			[]string{"X-Forwarded-Host: evil.example", "X-Forwarded-Proto: http", "Forwarded: host=evil.example"}, "invalid_dpop_proof", false},
		{"proof for https when the client used http", "DPoP", []string{alice.proof("GET", strings.Replace(htu, "http:", "https:", 1), tok)}, nil, "invalid_dpop_proof", false},
		{"proof for another token (ath)", "DPoP", []string{alice.proof("GET", htu, other)}, nil, "invalid_dpop_proof", false},
		{"proof without ath", "DPoP", []string{alice.proof("GET", htu, "", func(_ jws.Headers, c map[string]any) { delete(c, "ath") })}, nil, "invalid_dpop_proof", false},
		{"proof by another key (jkt)", "DPoP", []string{mallory.proof("GET", htu, tok)}, nil, "invalid_dpop_proof", false},
		{"replayed jti", "DPoP", []string{used}, nil, "invalid_dpop_proof", false},
		{"stale iat", "DPoP", []string{alice.proof("GET", htu, tok, func(_ jws.Headers, c map[string]any) { c["iat"] = time.Now().Add(-2 * time.Minute).Unix() })}, nil, "invalid_dpop_proof", false},
		{"future iat", "DPoP", []string{alice.proof("GET", htu, tok, func(_ jws.Headers, c map[string]any) { c["iat"] = time.Now().Add(2 * time.Minute).Unix() })}, nil, "invalid_dpop_proof", false},
		{"alg none", "DPoP", []string{alice.unsignedProof("GET", htu, tok)}, nil, "invalid_dpop_proof", false},
		{"HS256", "DPoP", []string{alice.hmacProof("GET", htu, tok)}, nil, "invalid_dpop_proof", false},
		{"private key in jwk", "DPoP", []string{alice.proof("GET", htu, tok, alice.privateJWK())}, nil, "invalid_dpop_proof", false},
		{"typ JWT", "DPoP", []string{alice.proof("GET", htu, tok, func(h jws.Headers, _ map[string]any) { _ = h.Set(jws.TypeKey, "JWT") })}, nil, "invalid_dpop_proof", false},
		{"two DPoP headers", "DPoP", []string{alice.proof("GET", htu, tok), alice.proof("GET", htu, tok)}, nil, "invalid_dpop_proof", false},
		{"missing proof", "DPoP", nil, nil, "invalid_dpop_proof", false},
		{"empty proof", "DPoP", []string{""}, nil, "invalid_dpop_proof", false},
		{"bound token as Bearer", "Bearer", nil, nil, "invalid_token", true},
		{"bound token as Bearer with a valid proof", "Bearer", []string{alice.proof("GET", htu, tok)}, nil, "invalid_token", true},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			resp, body := e.dpopRequest("GET", "/x", a.scheme, tok, a.proofs, a.headers...)
			dpopErr := a.code
			if a.bearer {
				dpopErr = ""
				if b := challengeOf(resp, "Bearer"); !strings.Contains(b, `error="invalid_token"`) {
					t.Fatalf("Bearer challenge %q lacks invalid_token", b)
				}
			}
			assertDPoPRefused(t, resp, body, a.code, dpopErr, true, append([]string{tok}, a.proofs...)...)
		})
	}
	t.Run("unbound token with the DPoP scheme", func(t *testing.T) {
		resp, body := e.dpopRequest("GET", "/x", "DPoP", plain, []string{alice.proof("GET", htu, plain)})
		assertDPoPRefused(t, resp, body, "invalid_token", "invalid_token", true, plain)
	})
	t.Run("mTLS-bound token over plain http", func(t *testing.T) {
		mt := e.mint(map[string]any{"sub": "alice"}, demoidp.WithCertificate([]byte("some certificate")))
		resp, body := e.get("/x", mt)
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	})
	t.Run("cnf without a method the gateway checks", func(t *testing.T) {
		for _, cnf := range []any{map[string]any{}, map[string]any{"jwk": map[string]any{"kty": "EC"}}, "jkt", map[string]any{"jkt": 7}} {
			resp, body := e.get("/x", e.mint(map[string]any{"sub": "alice", "cnf": cnf}))
			assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
		}
	})
}

// TestDPoPOpaqueNonceAndRequired: an opaque token the provider bound to a
// key (cnf.jkt in its introspection answer) needs proofs like a JWT; with
// dpop_nonce a proof without the server's nonce gets use_dpop_nonce and a
// DPoP-Nonce header, and passes once it carries it; with `dpop required` an
// unbound token is refused and no Bearer challenge is offered.
func TestDPoPOpaqueNonceAndRequired(t *testing.T) {
	e := newEnv(t, demoidp.Options{AutoApprove: true, OpaqueAccessTokens: true})
	e.start(e.globals(e.providerBlock("demo", "opaque_tokens introspection", "dpop_nonce", "dpop required")) + e.site("edgeauth demo", ""))
	alice := newDPoPClient(t)
	tok, typ := dpopTokenFor(t, e.idp, alice)
	if typ != "DPoP" || strings.Count(tok, ".") == 2 {
		t.Fatalf("the provider issued a %q token, want a DPoP-bound opaque one", typ)
	}
	htu := e.url("/x")
	var nonce string
	waitFor(t, "the provider's discovery", 10*time.Second, func() bool {
		resp, _ := e.dpopRequest("GET", "/x", "DPoP", tok, []string{alice.proof("GET", htu, tok)})
		nonce = resp.Header.Get("DPoP-Nonce")
		return resp.StatusCode == http.StatusUnauthorized && nonce != ""
	})
	t.Run("no nonce", func(t *testing.T) {
		proof := alice.proof("GET", htu, tok)
		resp, body := e.dpopRequest("GET", "/x", "DPoP", tok, []string{proof})
		assertDPoPRefused(t, resp, body, "use_dpop_nonce", "use_dpop_nonce", false, tok, proof)
		if resp.Header.Get("DPoP-Nonce") == "" {
			t.Fatal("no DPoP-Nonce header")
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		proof := alice.proof("GET", htu, tok, func(_ jws.Headers, c map[string]any) { c["nonce"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })
		resp, body := e.dpopRequest("GET", "/x", "DPoP", tok, []string{proof})
		assertDPoPRefused(t, resp, body, "use_dpop_nonce", "use_dpop_nonce", false, tok, proof)
	})
	withNonce := func(_ jws.Headers, c map[string]any) { c["nonce"] = nonce }
	t.Run("server nonce", func(t *testing.T) {
		got := e.upstreamSaw(e.dpopRequest("GET", "/x", "DPoP", tok, []string{alice.proof("GET", htu, tok, withNonce)}))
		if b := got.header("X-Auth-Token-Binding"); b != "dpop" {
			t.Fatalf("X-Auth-Token-Binding = %q", b)
		}
	})
	t.Run("bound opaque token as Bearer", func(t *testing.T) {
		resp, body := e.get("/x", tok)
		assertDPoPRefused(t, resp, body, "invalid_token", "invalid_token", false, tok)
	})
	t.Run("proof for another key", func(t *testing.T) {
		m := newDPoPClient(t)
		resp, body := e.dpopRequest("GET", "/x", "DPoP", tok, []string{m.proof("GET", htu, tok, withNonce)})
		assertDPoPRefused(t, resp, body, "invalid_dpop_proof", "invalid_dpop_proof", false, tok)
	})
	t.Run("dpop required refuses an unbound token", func(t *testing.T) {
		plain := accessTokenFor(t, e.idp, demoidp.DefaultClient(), "alice")
		resp, body := e.get("/x", plain)
		assertDPoPRefused(t, resp, body, "invalid_token", "invalid_token", false, plain)
	})
}

// TestDPoPAuthenticationProvider: inside Caddy's own `authentication`
// handler the edgeauth provider holds bound tokens to their proofs the same
// way: a fresh proof passes ({http.auth.user.token_binding} is dpop, and a
// token_binding claim cannot forge it); a missing or replayed proof and the
// bound token as Bearer are refused with the DPoP challenge.
func TestDPoPAuthenticationProvider(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	cfg := fmt.Sprintf(`{
	"admin": {"listen": "127.0.0.1:%d"},
	"apps": {
		"edgeauth": {"providers": {"demo": {"issuer": %q, "client_id": %q, "tls_ca": %q}}},
		"http": {"servers": {"s": {
			"listen": ["127.0.0.1:%d"],
			"automatic_https": {"disable": true},
			"routes": [{"handle": [
				{"handler": "authentication", "providers": {"edgeauth": {"providers": ["demo"]}}},
				{"handler": "headers", "request": {"set": {"X-User-Binding": ["{http.auth.user.token_binding}"]}}},
				{"handler": "reverse_proxy", "upstreams": [{"dial": %q}]}
			]}],
			"errors": {"routes": [{"handle": [
				{"handler": "static_response", "status_code": "{http.error.status_code}", "body": "denied"}
			]}]}
		}}}
	}
}`, e.admin, e.idp.Issuer(), demoidp.DefaultClientID, e.caFile, e.port, e.upstream)
	loadCaddy(t, []byte(cfg))
	alice := newDPoPClient(t)
	tok := e.mint(map[string]any{"sub": "alice"}, demoidp.WithJKT(alice.jkt))
	htu := e.url("/x")
	waitFor(t, "a bound token with its proof to pass", 10*time.Second, func() bool {
		resp, _ := e.dpopRequest("GET", "/x", "DPoP", tok, []string{alice.proof("GET", htu, tok)})
		return resp.StatusCode == http.StatusOK
	})
	proof := alice.proof("GET", htu, tok)
	got := e.upstreamSaw(e.dpopRequest("GET", "/x", "DPoP", tok, []string{proof}))
	if b := got.header("X-User-Binding"); b != "dpop" {
		t.Fatalf("{http.auth.user.token_binding} = %q, want dpop", b)
	}
	forged := e.mint(map[string]any{"sub": "bob", "token_binding": "dpop"})
	if b := e.upstreamSaw(e.get("/x", forged)).header("X-User-Binding"); b != "" {
		t.Fatalf("a token_binding claim reached the placeholder: %q", b)
	}
	for name, c := range map[string]struct {
		scheme string
		proofs []string
		dpop   string // the DPoP challenge's error
	}{
		"replayed proof":        {"DPoP", []string{proof}, "invalid_dpop_proof"},
		"missing proof":         {"DPoP", nil, "invalid_dpop_proof"},
		"bound token as Bearer": {"Bearer", nil, ""},
	} {
		resp, body := e.dpopRequest("GET", "/x", c.scheme, tok, c.proofs)
		if resp.StatusCode != http.StatusUnauthorized || string(body) != "denied" {
			t.Fatalf("%s: %d %q, want 401 from handle_errors", name, resp.StatusCode, body)
		}
		d := challengeOf(resp, "DPoP")
		if !strings.HasPrefix(d, `DPoP algs="`) || (c.dpop != "" && !strings.Contains(d, `error="`+c.dpop+`"`)) {
			t.Fatalf("%s: DPoP challenge %q", name, d)
		}
	}
}

// TestDPoPOfferedWithoutCredential: a request without a credential gets the
// Bearer challenge and a DPoP challenge naming the provider's proof
// algorithms (dpop_algorithms), so a client can tell which keys it may use.
func TestDPoPOfferedWithoutCredential(t *testing.T) {
	e := newEnv(t, demoidp.Options{})
	e.start(e.globals(e.providerBlock("demo", "dpop_algorithms ES256 EdDSA")) + e.site("edgeauth demo", ""))
	plain := e.mint(map[string]any{"sub": "bob"})
	waitFor(t, "the provider's keys", 10*time.Second, func() bool {
		resp, _ := e.get("/x", plain)
		return resp.StatusCode == http.StatusOK
	})
	resp, body := e.get("/x", "")
	assertError(t, resp, body, http.StatusUnauthorized, "unauthorized")
	if d := challengeOf(resp, "DPoP"); d != `DPoP algs="ES256 EdDSA"` {
		t.Fatalf("DPoP challenge %q", d)
	}
	if b := challengeOf(resp, "Bearer"); !strings.HasPrefix(b, "Bearer realm=") {
		t.Fatalf("Bearer challenge %q", b)
	}
}
