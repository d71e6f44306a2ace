package assertsign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	cryptotls "crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

const testIssuer = "https://gw.example.com"

func TestConfigValidate(t *testing.T) {
	ok := Config{Issuer: testIssuer}
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", ok, ""},
		{"loopback http", Config{Issuer: "http://127.0.0.1:9000"}, ""},
		{"no issuer", Config{}, "`issuer <https URL>` is required"},
		{"http", Config{Issuer: "http://gw.example.com"}, "must use https"},
		{"query", Config{Issuer: testIssuer + "/?a=b"}, "no user info, query or fragment"},
		{"user", Config{Issuer: "https://u@gw.example.com"}, "no user info, query or fragment"},
		{"relative", Config{Issuer: "gw.example.com"}, "absolute URL"},
		{"hs256", Config{Issuer: testIssuer, Algorithm: "HS256"}, `"HS256" is not supported`},
		{"none", Config{Issuer: testIssuer, Algorithm: "none"}, `"none" is not supported`},
		{"short lifetime", Config{Issuer: testIssuer, Lifetime: 10 * time.Second}, "lifetime 10s: must be between 30s and 1h0m0s"},
		{"long lifetime", Config{Issuer: testIssuer, Lifetime: 2 * time.Hour}, "must be between"},
		{"rotate below lifetime", Config{Issuer: testIssuer, Lifetime: 10 * time.Minute, Rotate: 5 * time.Minute}, "rotate 5m0s: must be at least 30s and at least the lifetime"},
		{"rotate = lifetime", Config{Issuer: testIssuer, Lifetime: 30 * time.Second, Rotate: 30 * time.Second}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.WithDefaults().Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Every algorithm: generated on first use, verified by go-jose with the
// published JWKS, with the claims and header the contract lists.
func TestAssertionClaimsAndHeader(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256, PS256} {
		t.Run(alg, func(t *testing.T) {
			clk := newClock()
			s := testSigner(t, Config{Issuer: testIssuer, Algorithm: alg}, t.TempDir(), clk, nil)
			id := &identity.Identity{Provider: "corp", Subject: "alice", Issuer: "https://idp.example.com",
				Scopes: []string{"openid", "profile"},
				Claims: map[string]any{"aid": json.Number("1000000000000000"), "uid": "2000", "type": "user",
					"login_name": "alice", "upn": "alice@corp", "name": "Alice", "email": "alice@example.com",
					"email_verified": true, "groups": []any{"admins"}, "access_key_secret": "nope"}}
			jws := mustAssertion(t, s, ClaimsFor(id, "https://app.example.com", "acs:ram::1:role/r"))
			claims, kid, err := verified(jws, jwksOf(t, s), alg, testIssuer, "https://app.example.com", clk.now())
			if err != nil {
				t.Fatalf("go-jose refused the assertion: %v", err)
			}
			if keys := s.Keys(); len(keys) != 1 || keys[0].Kid != kid || !keys[0].Signing {
				t.Fatalf("Keys() = %+v, kid %s", keys, kid)
			}
			want := map[string]any{"iss": testIssuer, "aud": "https://app.example.com", "sub": "alice",
				"idp": "https://idp.example.com", "provider": "corp", "scope": "openid profile",
				"aid": "1000000000000000", "uid": "2000", "type": "user", "login_name": "alice",
				"upn": "alice@corp", "name": "Alice", "email": "alice@example.com", "role_arn": "acs:ram::1:role/r"}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %#v, want %#v", k, claims[k], v)
				}
			}
			iat, exp := claims["iat"].(float64), claims["exp"].(float64)
			if int64(iat) != clk.now().Unix() || exp-iat != DefaultLifetime.Seconds() {
				t.Errorf("iat %v exp %v, want iat now and exp = iat + %s", iat, exp, DefaultLifetime)
			}
			if jti, _ := claims["jti"].(string); len(jti) < 16 {
				t.Errorf("jti %q", claims["jti"])
			}
			for _, never := range []string{"groups", "email_verified", "access_key_secret", "nbf"} {
				if _, ok := claims[never]; ok {
					t.Errorf("claim %s must not be in the assertion", never)
				}
			}
			if len(claims) != len(want)+3 {
				t.Errorf("claims %v: want exactly the listed ones", claims)
			}
			hdr := decodeSegment(t, jws, 0)
			if hdr["typ"] != "JWT" || hdr["alg"] != alg || hdr["kid"] != kid || len(hdr) != 3 {
				t.Errorf("JWS header %v, want exactly alg, kid and typ JWT", hdr)
			}
		})
	}
}

func decodeSegment(t testing.TB, jws string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Control bytes in a claim travel JSON-escaped and exact: the value a
// backend reads is the one the provider issued, never a trimmed one that
// could equal another user's.
func TestAssertionKeepsRawClaimValues(t *testing.T) {
	clk := newClock()
	s := testSigner(t, Config{Issuer: testIssuer}, t.TempDir(), clk, nil)
	id := &identity.Identity{Provider: "corp", Subject: "alice\x00", Claims: map[string]any{"name": "A\r\nX-Auth-Subject: bob", "type": "account\t"}}
	jws := mustAssertion(t, s, ClaimsFor(id, "https://app.example.com", ""))
	if strings.ContainsAny(jws, "\r\n\x00\t") {
		t.Fatal("the compact JWS holds a control byte")
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[1])
	if !bytes.Contains(payload, []byte(`"sub":"alice\u0000"`)) || !bytes.Contains(payload, []byte(`"name":"A\r\nX-Auth-Subject: bob"`)) {
		t.Fatalf("payload %s: want the raw values JSON-escaped", payload)
	}
	claims, _, err := verified(jws, jwksOf(t, s), ES256, testIssuer, "https://app.example.com", clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != "alice\x00" || claims["type"] != "account\t" {
		t.Fatalf("claims %q", claims)
	}
}

// A repeated caller costs one signature per half lifetime; another
// audience or another identity is another assertion.
func TestAssertionCache(t *testing.T) {
	clk := newClock()
	var signs atomic.Int64
	s := testSigner(t, Config{Issuer: testIssuer, Lifetime: time.Minute}, t.TempDir(), clk, &signs)
	alice := ClaimsFor(&identity.Identity{Subject: "alice", Issuer: "https://idp"}, "https://a.example", "")
	first := mustAssertion(t, s, alice)
	for i := 0; i < 10; i++ {
		if got := mustAssertion(t, s, alice); got != first {
			t.Fatal("a repeated caller got a new assertion before half its lifetime")
		}
	}
	other := alice
	other.Audience = "https://b.example"
	if mustAssertion(t, s, other) == first {
		t.Fatal("another audience got the same assertion")
	}
	bob := alice
	bob.Subject = "bob"
	mustAssertion(t, s, bob)
	if n := signs.Load(); n != 3 {
		t.Fatalf("%d signatures, want 3", n)
	}
	clk.advance(29 * time.Second)
	if mustAssertion(t, s, alice) != first {
		t.Fatal("renewed before half the lifetime")
	}
	clk.advance(time.Second)
	if mustAssertion(t, s, alice) == first {
		t.Fatal("not renewed at half the lifetime")
	}
	if n := signs.Load(); n != 4 {
		t.Fatalf("%d signatures, want 4", n)
	}

	// Concurrent first requests for one identity share one signature.
	fresh := alice
	fresh.Subject = "carol"
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustAssertion(t, s, fresh)
		}()
	}
	wg.Wait()
	if n := signs.Load(); n != 5 {
		t.Fatalf("%d signatures after 50 concurrent first requests, want 5", n)
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(64)
	now := time.Now()
	for i := 0; i < 1000; i++ {
		c.put(Claims{Subject: string(rune('a'+i%26)) + strings.Repeat("x", i)}, cached{jws: "j", renewAt: now.Add(time.Minute)}, now)
		if c.len() > 64 {
			t.Fatalf("cache holds %d entries, cap 64", c.len())
		}
	}
}

// Instances that share a storage and race to generate the first key end
// with one key set; a restart on the same storage keeps it.
func TestGenerationRaceEndsWithOneKey(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Issuer: testIssuer}
	signers := make([]*Signer, 6)
	for i := range signers {
		signers[i] = testSigner(t, cfg, dir, nil, nil)
	}
	kids := make([]string, len(signers))
	var wg sync.WaitGroup
	for i, s := range signers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jws, err := s.Assertion(context.Background(), Claims{Audience: "a", Subject: "alice"})
			if err != nil {
				t.Error(err)
				return
			}
			kids[i], _ = decodeSegment(t, jws, 0)["kid"].(string)
		}()
	}
	wg.Wait()
	for i, k := range kids {
		if k != kids[0] || k == "" {
			t.Fatalf("instance %d signs with %q, instance 0 with %q", i, k, kids[0])
		}
	}
	restarted := testSigner(t, cfg, dir, nil, nil)
	if set := jwksOf(t, restarted); len(set.Keys) != 1 || set.Keys[0].KeyID != kids[0] {
		t.Fatalf("after a restart the JWKS is %+v, want the one key %s", set.Keys, kids[0])
	}
}

// Rotation: the next key is published before it signs; the old key stays
// published until every assertion it signed has expired, then goes; a
// second instance on the storage follows.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	cfg := Config{Issuer: testIssuer, Lifetime: time.Minute, Rotate: 10 * time.Minute}
	a := testSigner(t, cfg, dir, clk, nil)
	b := testSigner(t, cfg, dir, clk, nil)
	c := Claims{Audience: "https://a.example", Subject: "alice"}
	first := mustAssertion(t, a, c)
	kid1 := decodeSegment(t, first, 0)["kid"].(string)
	lead := a.sched.lead

	// Just before the lead: one key.
	clk.advance(cfg.Rotate - lead - time.Second)
	if err := a.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(jwksOf(t, a).Keys); n != 1 {
		t.Fatalf("%d keys before rotation is due, want 1", n)
	}
	// Within the lead: the next key is published and does not sign yet.
	clk.advance(2 * time.Second)
	if err := a.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	setA, setB := jwksOf(t, a), jwksOf(t, b)
	if len(setA.Keys) != 2 || len(setB.Keys) != 2 || setA.Keys[0].KeyID != setB.Keys[0].KeyID {
		t.Fatalf("after the rotation started: instance a publishes %d keys, b %d; want the same 2", len(setA.Keys), len(setB.Keys))
	}
	kid2 := setA.Keys[0].KeyID
	lastOld := mustAssertion(t, b, Claims{Audience: "https://a.example", Subject: "bob"})
	if k := decodeSegment(t, lastOld, 0)["kid"]; k != kid1 {
		t.Fatalf("before its not_before the new key signs (%v)", k)
	}
	// The new key's period: new assertions carry it, old ones still verify.
	clk.advance(lead)
	for _, s := range []*Signer{a, b} {
		if err := s.load(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	fresh := mustAssertion(t, a, Claims{Audience: "https://a.example", Subject: "carol"})
	if k := decodeSegment(t, fresh, 0)["kid"]; k != kid2 {
		t.Fatalf("after rotation the assertion has kid %v, want %s", k, kid2)
	}
	if _, _, err := verified(lastOld, jwksOf(t, a), ES256, testIssuer, "https://a.example", clk.now()); err != nil {
		t.Fatalf("an unexpired assertion of the old key does not verify after rotation: %v", err)
	}
	// Once every old assertion has expired (plus the grace), the old key goes.
	clk.advance(cfg.Lifetime + a.sched.grace + time.Second)
	if err := a.load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if set := jwksOf(t, a); len(set.Keys) != 1 || set.Keys[0].KeyID != kid2 {
		t.Fatalf("keys %v, want only %s", set.Keys, kid2)
	}
}

// A key set altered in storage is never used: a wrong kid, a key of
// another type, a swapped key, garbage. Requests fail closed (503).
func TestTamperedKeySetRefused(t *testing.T) {
	cfg := Config{Issuer: testIssuer}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPEM, _ := marshalPrivatePEM(otherKey)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPEM, _ := marshalPrivatePEM(edPriv)
	tamper := map[string]func(*storedSet){
		"kid changed":         func(s *storedSet) { s.Keys[0].Kid = "other" },
		"private key swapped": func(s *storedSet) { s.Keys[0].PrivateKey = otherPEM },
		"key of another type": func(s *storedSet) { s.Keys[0].PrivateKey = edPEM },
		"algorithm changed":   func(s *storedSet) { s.Algorithm = EdDSA },
		"issuer changed":      func(s *storedSet) { s.Issuer = "https://evil.example" },
		"created in future":   func(s *storedSet) { s.Keys[0].Created = time.Now().Add(24 * time.Hour) },
	}
	for name, change := range tamper {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := testSigner(t, cfg, dir, nil, nil)
			mustAssertion(t, s, Claims{Subject: "a"})
			store := &certmagic.FileStorage{Path: dir}
			data, err := store.Load(context.Background(), s.key)
			if err != nil {
				t.Fatal(err)
			}
			var set storedSet
			if err := json.Unmarshal(data, &set); err != nil {
				t.Fatal(err)
			}
			change(&set)
			data, _ = json.Marshal(set)
			if err := store.Store(context.Background(), s.key, data); err != nil {
				t.Fatal(err)
			}
			fresh := testSigner(t, cfg, dir, nil, nil)
			if _, err := fresh.Assertion(context.Background(), Claims{Subject: "a"}); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("a tampered key set gave %v, want ErrUnavailable", err)
			}
			rec := httptest.NewRecorder()
			fresh.ServeWellKnown(rec, httptest.NewRequest(http.MethodGet, JWKSPath, nil))
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("JWKS on a tampered key set: %d", rec.Code)
			}
			// Nothing overwrote the operator's evidence.
			after, _ := store.Load(context.Background(), s.key)
			if !bytes.Equal(after, data) {
				t.Fatal("the tampered key set was overwritten")
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		dir := t.TempDir()
		s := testSigner(t, cfg, dir, nil, nil)
		if err := (&certmagic.FileStorage{Path: dir}).Store(context.Background(), s.key, []byte("{not json")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Assertion(context.Background(), Claims{Subject: "a"}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v", err)
		}
	})
}

// key_file: each algorithm with a matching key in PKCS #8 and in the
// older PEM forms; a key of the wrong type or too small is refused at load.
func TestKeyFile(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pkcs8 := func(k crypto.Signer) string { s, _ := marshalPrivatePEM(k); return s }
	sec1 := func() string {
		der, _ := x509.MarshalECPrivateKey(ec)
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}()
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rs)}))
	good := []struct{ alg, pem string }{
		{ES256, pkcs8(ec)}, {ES256, sec1}, {EdDSA, pkcs8(ed)}, {RS256, pkcs8(rs)}, {PS256, pkcs1},
	}
	for _, g := range good {
		t.Run("ok "+g.alg, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, []byte(g.pem), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Issuer: testIssuer, Algorithm: g.alg, KeyFile: path}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			jws := mustAssertion(t, s, Claims{Audience: "x", Subject: "alice"})
			if _, _, err := verified(jws, jwksOf(t, s), g.alg, testIssuer, "x", time.Now()); err != nil {
				t.Fatal(err)
			}
			if k := s.Keys(); len(k) != 1 || k[0].Source != "key_file" {
				t.Fatalf("Keys() = %+v", k)
			}
		})
	}
	bad := []struct{ name, alg, pem, want string }{
		{"ec for rsa", RS256, pkcs8(ec), "an EC key cannot sign RS256"},
		{"rsa for es", ES256, pkcs8(rs), "an RSA key cannot sign ES256"},
		{"ed for ps", PS256, pkcs8(ed), "an Ed25519 key cannot sign PS256"},
		{"p384", ES256, pkcs8(ec384), "ES256 needs P-256"},
		{"small rsa", RS256, pkcs8(small), "at least 2048"},
		{"not pem", ES256, "hello", "no PEM block"},
		{"public key", ES256, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})), "is not a private key"},
		{"two keys", ES256, pkcs8(ec) + pkcs8(ec), "more than one PEM block"},
	}
	for _, b := range bad {
		t.Run("refused "+b.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, []byte(b.pem), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(Config{Issuer: testIssuer, Algorithm: b.alg, KeyFile: path}, Options{})
			if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), "assertion key_file") {
				t.Fatalf("error %v, want one naming key_file and containing %q", err, b.want)
			}
		})
	}
	if _, err := New(Config{Issuer: testIssuer, KeyFile: "/nonexistent/key.pem"}, Options{}); err == nil {
		t.Fatal("a missing key file loaded")
	}
}

func TestWellKnown(t *testing.T) {
	s := testSigner(t, Config{Issuer: testIssuer, Algorithm: EdDSA}, t.TempDir(), nil, nil)
	serve := func(method, target string, tls bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		if !tls {
			r.TLS = nil
		}
		rec := httptest.NewRecorder()
		if !s.ServeWellKnown(rec, r) {
			t.Fatalf("%s %s not answered", method, target)
		}
		return rec
	}
	rec := serve(http.MethodGet, "https://App.Example.com:443"+DiscoveryPath, true)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// jwks_uri is under the issuer, whatever Host the request named.
	if doc["issuer"] != testIssuer || doc["jwks_uri"] != testIssuer+JWKSPath {
		t.Fatalf("discovery %v", doc)
	}
	if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != EdDSA {
		t.Fatalf("algorithms %v", doc["id_token_signing_alg_values_supported"])
	}
	// Generated keys: cached no longer than a new key is published before
	// it signs (here the re-read interval, lifetime/2 = 1m).
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Fatalf("Cache-Control %q", cc)
	}
	rec = serve(http.MethodGet, "http://evil.example:8080"+DiscoveryPath, false)
	json.Unmarshal(rec.Body.Bytes(), &doc)
	if doc["jwks_uri"] != testIssuer+JWKSPath {
		t.Fatalf("jwks_uri %v follows the request's Host", doc["jwks_uri"])
	}
	set := jwksOf(t, s)
	if len(set.Keys) != 1 || set.Keys[0].Algorithm != EdDSA || set.Keys[0].Use != "sig" || !set.Keys[0].IsPublic() {
		t.Fatalf("JWKS %+v", set.Keys)
	}
	if !strings.Contains(serve(http.MethodGet, JWKSPath, false).Body.String(), `"kid"`) {
		t.Fatal("no kid in the JWKS")
	}
	head := serve(http.MethodHead, JWKSPath, false)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d, %d bytes", head.Code, head.Body.Len())
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if rec := serve(m, JWKSPath, false); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Fatalf("%s: %d", m, rec.Code)
		}
	}
	if s.ServeWellKnown(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/.well-known/edgeauth/other", nil)) {
		t.Fatal("another path was answered")
	}
}

// The kid is the RFC 7638 thumbprint, as go-jose computes it.
func TestKidIsThumbprint(t *testing.T) {
	for _, alg := range []string{ES256, EdDSA, RS256} {
		s := testSigner(t, Config{Issuer: testIssuer, Algorithm: alg}, t.TempDir(), nil, nil)
		set := jwksOf(t, s)
		tp, err := set.Keys[0].Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(tp); got != set.Keys[0].KeyID {
			t.Fatalf("%s: kid %s, thumbprint %s", alg, set.Keys[0].KeyID, got)
		}
	}
}

func TestScopeString(t *testing.T) {
	cases := []struct {
		scopes []string
		claim  any
		want   string
	}{
		{nil, nil, ""},
		{[]string{"a"}, nil, "a"},
		{[]string{"a", "b"}, "a b", "a b"},
		{[]string{"a", "b"}, "a  b", "a b"},
		{[]string{"a", "b"}, "b a", "a b"},
		{[]string{"a", "b"}, "a b c", "a b"},
		{[]string{"ab", "c"}, "a bc", "ab c"},
		{[]string{"a", "b"}, []any{"a", "b"}, "a b"},
	}
	for _, c := range cases {
		id := &identity.Identity{Scopes: c.scopes, Claims: map[string]any{"scope": c.claim}}
		if got := scopeString(id); got != c.want {
			t.Errorf("scopes %q claim %q: %q, want %q", c.scopes, c.claim, got, c.want)
		}
	}
}

// The default audience takes its port from the listener, never from the
// Host header: Caddy's host matchers ignore the port, so a client could
// otherwise have the gateway sign for another origin.
func TestOriginPortFromListener(t *testing.T) {
	req := func(host string, tls bool, local string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Host = host
		r.TLS = nil
		if tls {
			r.TLS = &cryptotls.ConnectionState{}
		}
		if local != "" {
			addr, _ := net.ResolveTCPAddr("tcp", local)
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
		}
		return r
	}
	for _, tc := range []struct {
		host  string
		tls   bool
		local string
		want  string
	}{
		{"App.Example.com", true, "10.0.0.1:443", "https://app.example.com"},
		{"app.example.com:443", true, "10.0.0.1:443", "https://app.example.com"},
		{"app.example.com:8443", true, "10.0.0.1:443", "https://app.example.com"},
		{"app.example.com:1", true, "10.0.0.1:443", "https://app.example.com"},
		{"app.example.com:8443", true, "10.0.0.1:8443", "https://app.example.com:8443"},
		{"app.example.com", true, "10.0.0.1:8443", "https://app.example.com"}, // a load balancer's Host
		{"127.0.0.1:9999", false, "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"[::1]:1", false, "[::1]:8080", "http://[::1]:8080"},
		{"[::1]", false, "[::1]:8080", "http://[::1]"},
	} {
		if got := Origin(req(tc.host, tc.tls, tc.local)); got != tc.want {
			t.Errorf("Origin(Host %q, local %s) = %q, want %q", tc.host, tc.local, got, tc.want)
		}
	}
}
