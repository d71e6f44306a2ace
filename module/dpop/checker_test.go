package dpop

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestCheckAttacks: each change to a valid proof is refused with its detail
// code; the valid proof passes once and is refused as a replay after.
func TestCheckAttacks(t *testing.T) {
	k := ecKey(t)
	other := ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "tok.en.x", JKT: Thumbprint(&k.PublicKey)}
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	cases := []struct {
		name   string
		mutate func(h, c map[string]any) string // returns a proof, "" to sign h, c with k
		detail string
	}{
		{"method", func(h, c map[string]any) string { c["htm"] = "POST"; return "" }, "wrong_method"},
		{"url", func(h, c map[string]any) string { c["htu"] = "https://api.example/other"; return "" }, "wrong_url"},
		{"host", func(h, c map[string]any) string { c["htu"] = "https://evil.example/res"; return "" }, "wrong_url"},
		{"scheme", func(h, c map[string]any) string { c["htu"] = "http://api.example/res"; return "" }, "wrong_url"},
		{"token", func(h, c map[string]any) string { c["ath"] = accessTokenHash("another"); return "" }, "wrong_token"},
		{"no ath", func(h, c map[string]any) string { delete(c, "ath"); return "" }, "wrong_token"},
		{"stale", func(h, c map[string]any) string { c["iat"] = testNow.Add(-66 * time.Second).Unix(); return "" }, "stale"},
		{"future", func(h, c map[string]any) string { c["iat"] = testNow.Add(6 * time.Second).Unix(); return "" }, "future"},
		{"other key", func(h, c map[string]any) string {
			h["jwk"] = ecJWK(other)
			return sign(t, jwt.SigningMethodES256, other, h, c)
		}, "wrong_key"},
		{"signed by other", func(h, c map[string]any) string { return sign(t, jwt.SigningMethodES256, other, h, c) }, "bad_signature"},
		{"alg none", func(h, c map[string]any) string {
			h["alg"] = "none"
			s := sign(t, jwt.SigningMethodES256, k, h, c)
			return s[:strings.LastIndexByte(s, '.')+1]
		}, "malformed"},
		{"alg none signed", func(h, c map[string]any) string { h["alg"] = "none"; return "" }, "algorithm"},
		{"HS256", func(h, c map[string]any) string {
			h["alg"] = "HS256"
			h["jwk"] = map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(hmacKey)}
			return sign(t, jwt.SigningMethodHS256, hmacKey, h, c)
		}, "algorithm"},
		{"private jwk", func(h, c map[string]any) string {
			j := ecJWK(k)
			j["d"] = base64.RawURLEncoding.EncodeToString(k.D.Bytes())
			h["jwk"] = j
			return ""
		}, "private_key"},
		{"typ", func(h, c map[string]any) string { h["typ"] = "JWT"; return "" }, "wrong_type"},
		{"typ case", func(h, c map[string]any) string { h["typ"] = "DPoP+JWT"; return "" }, "wrong_type"},
		{"no jwk", func(h, c map[string]any) string { delete(h, "jwk"); return "" }, "bad_key"},
		{"jku", func(h, c map[string]any) string { h["jku"] = "https://evil.example/jwks"; return "" }, "malformed"},
		{"crit", func(h, c map[string]any) string { h["crit"] = []string{"x"}; return "" }, "malformed"},
		{"alg/key mismatch", func(h, c map[string]any) string {
			h["alg"] = "EdDSA"
			return sign(t, jwt.SigningMethodEdDSA, edPriv, h, c)
		}, "bad_key"},
		{"no jti", func(h, c map[string]any) string { delete(c, "jti"); return "" }, "malformed"},
		{"iat string", func(h, c map[string]any) string { c["iat"] = "now"; return "" }, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChecker(t, nil)
			h, cl := proofParts(k, req, "jti-"+tc.name)
			proof := tc.mutate(h, cl)
			if proof == "" {
				proof = sign(t, jwt.SigningMethodES256, k, h, cl)
			}
			_, e := c.Check(bg, proof, req)
			if e == nil || e.Detail != tc.detail || e.Code != CodeInvalidProof {
				t.Fatalf("got %+v, want detail %s", e, tc.detail)
			}
		})
	}
	t.Run("valid once", func(t *testing.T) {
		c := newTestChecker(t, nil)
		h, cl := proofParts(k, req, "once")
		proof := sign(t, jwt.SigningMethodES256, k, h, cl)
		if res, e := c.Check(bg, proof, req); e != nil || res.JKT != req.JKT {
			t.Fatalf("valid proof refused: %+v", e)
		}
		if _, e := c.Check(bg, proof, req); e == nil || e.Detail != "replayed" {
			t.Fatalf("replay: got %+v", e)
		}
	})
	t.Run("equivalent URL", func(t *testing.T) {
		c := newTestChecker(t, nil)
		h, cl := proofParts(k, req, "eq")
		cl["htu"] = "HTTPS://API.example:443/%72es?q=1#frag"
		if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e != nil {
			t.Fatalf("equivalent htu refused: %+v", e)
		}
	})
}

// TestCheckAlgorithmList: a proof algorithm outside dpop_algorithms is
// refused even though the key and signature are good; RSA and EdDSA proofs
// pass where allowed.
func TestCheckAlgorithmList(t *testing.T) {
	k := ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/", AccessToken: "t", JKT: Thumbprint(&k.PublicKey)}
	c := newTestChecker(t, func(cfg *Config) { cfg.Algorithms = []string{"EdDSA"} })
	h, cl := proofParts(k, req, "a")
	if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e == nil || e.Detail != "algorithm" {
		t.Fatalf("got %+v", e)
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	enc := base64.RawURLEncoding.EncodeToString
	h = map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": map[string]any{"kty": "RSA", "n": enc(rk.N.Bytes()), "e": "AQAB"}}
	req.JKT = Thumbprint(&rk.PublicKey)
	if _, e := newTestChecker(t, nil).Check(bg, sign(t, jwt.SigningMethodPS256, rk, h, cl), req); e != nil {
		t.Fatalf("PS256 proof refused: %+v", e)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	h = map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc(pub)}}
	req.JKT = Thumbprint(pub)
	if _, e := newTestChecker(t, nil).Check(bg, sign(t, jwt.SigningMethodEdDSA, priv, h, cl), req); e != nil {
		t.Fatalf("EdDSA proof refused: %+v", e)
	}
	if err := ValidateAlgorithms([]string{"HS256"}); err == nil {
		t.Fatal("HS256 accepted in dpop_algorithms")
	}
	if err := ValidateAlgorithms([]string{"none"}); err == nil {
		t.Fatal("none accepted in dpop_algorithms")
	}
}

// TestCheckDuplicateAndControlBytes: a header or payload with a repeated
// member (in any case or escape) or invalid UTF-8 is refused before the
// signature is even looked at; control bytes in htu never match.
func TestCheckDuplicateAndControlBytes(t *testing.T) {
	k := ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "t", JKT: Thumbprint(&k.PublicKey)}
	c := newTestChecker(t, nil)
	jwk := `{"kty":"EC","crv":"P-256","x":"` + ecJWK(k)["x"].(string) + `","y":"` + ecJWK(k)["y"].(string) + `"}`
	good := `{"jti":"j","htm":"GET","htu":"https://api.example/res","iat":1800000000,"ath":"` + accessTokenHash("t") + `"}`
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwk + `}`
	for name, pair := range map[string][2]string{
		"dup htu":        {hdr, strings.Replace(good, `"jti"`, `"htu":"https://evil.example/res","jti"`, 1)},
		"dup escaped":    {hdr, strings.Replace(good, `"jti"`, `"ht\u0075":"https://evil.example/res","jti"`, 1)},
		"dup case":       {hdr, strings.Replace(good, `"jti"`, `"HTU":"https://evil.example/res","jti"`, 1)},
		"dup header alg": {strings.Replace(hdr, `"typ"`, `"alg":"none","typ"`, 1), good},
		"dup jwk x":      {strings.Replace(hdr, `"kty":"EC"`, `"x":"AAAA","kty":"EC"`, 1), good},
		"lossy":          {hdr, strings.Replace(good, `"j"`, "\"j\xff\"", 1)},
		"lone surrogate": {hdr, strings.Replace(good, `"j"`, `"j\ud800"`, 1)},
		"ctl in htu":     {hdr, strings.Replace(good, `/res"`, `/res\u0000"`, 1)},
	} {
		proof := signRaw(t, jwt.SigningMethodES256, k, []byte(pair[0]), []byte(pair[1]))
		if _, e := c.Check(bg, proof, req); e == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, e := c.Check(bg, signRaw(t, jwt.SigningMethodES256, k, []byte(hdr), []byte(good)), req); e != nil {
		t.Fatalf("the unmodified proof is refused: %+v", e)
	}
	if _, e := c.Check(bg, strings.Repeat("a", DefaultMaxProofSize+1), req); e == nil || e.Detail != "too_large" {
		t.Fatalf("oversize: %+v", e)
	}
}

// TestNonces: with nonces on, a proof without one, or with a forged or
// expired one, gets use_dpop_nonce; the current nonce and the previous
// window's pass (the latter with a newer nonce handed back); another
// secret's nonces are refused.
func TestNonces(t *testing.T) {
	k := ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/", AccessToken: "t", JKT: Thumbprint(&k.PublicKey)}
	now := testNow
	clock := func() time.Time { return now }
	secret := []byte("a shared fleet secret of 32 bytes!")
	n, _ := NewNonces(secret, "demo", time.Minute, clock)
	c := newTestChecker(t, func(cfg *Config) { cfg.Nonces = n; cfg.Now = clock })
	try := func(jti, nonce string) (Result, *Error) {
		h, cl := proofParts(k, req, jti)
		cl["iat"] = now.Unix()
		if nonce != "" {
			cl["nonce"] = nonce
		}
		return c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req)
	}
	if _, e := try("1", ""); e == nil || e.Code != CodeUseNonce {
		t.Fatalf("no nonce: %+v", e)
	}
	other, _ := NewNonces([]byte("another secret entirely, 32 byte"), "demo", time.Minute, clock)
	if _, e := try("2", other.Current()); e == nil || e.Code != CodeUseNonce {
		t.Fatalf("foreign nonce: %+v", e)
	}
	scoped, _ := NewNonces(secret, "other-provider", time.Minute, clock)
	if _, e := try("2b", scoped.Current()); e == nil || e.Code != CodeUseNonce {
		t.Fatalf("other scope's nonce: %+v", e)
	}
	cur := n.Current()
	if res, e := try("3", cur); e != nil || res.NextNonce != "" {
		t.Fatalf("current nonce: %+v %+v", res, e)
	}
	twin, _ := NewNonces(secret, "demo", time.Minute, clock)
	if twin.Current() != cur {
		t.Fatal("two instances with one secret make different nonces")
	}
	now = now.Add(time.Minute)
	if res, e := try("4", cur); e != nil || res.NextNonce == "" || res.NextNonce == cur {
		t.Fatalf("previous window's nonce: %+v %+v", res, e)
	}
	now = now.Add(time.Minute)
	if _, e := try("5", cur); e == nil || e.Code != CodeUseNonce {
		t.Fatalf("expired nonce: %+v", e)
	}
}

// TestMemoryReplayBounded: a full store refuses new proofs rather than
// forgetting live ones, and frees slots once entries expire.
func TestMemoryReplayBounded(t *testing.T) {
	m := NewMemoryReplay(replayShards) // one slot per shard
	var k ReplayKey
	exp := time.Now().Add(time.Hour)
	if fresh, err := m.Claim(bg, k, exp); !fresh || err != nil {
		t.Fatal(fresh, err)
	}
	if fresh, err := m.Claim(bg, k, exp); fresh || err != nil {
		t.Fatal("replay accepted", fresh, err)
	}
	k2 := k
	k2[15] = 1 // same shard (shard is chosen by the first 8 bytes)
	if _, err := m.Claim(bg, k2, exp); err != ErrReplayStoreFull {
		t.Fatalf("full store: %v", err)
	}
	m2 := NewMemoryReplay(replayShards)
	_, _ = m2.Claim(bg, k, time.Now().Add(-time.Second)) // already expired
	if fresh, err := m2.Claim(bg, k2, exp); !fresh || err != nil {
		t.Fatalf("expired slot not reused: %v %v", fresh, err)
	}
	m3 := NewMemoryReplay(0)
	_, _ = m3.Claim(bg, k, time.Now().Add(-time.Second))
	if fresh, _ := m3.Claim(bg, k, exp); !fresh {
		t.Fatal("an expired entry still counts as seen")
	}
}

// TestMemoryReplayGrows: a shard's ring starts small and grows while full,
// keeping every live entry (each is still refused as a replay), up to the
// capacity, past which new proofs are refused.
func TestMemoryReplayGrows(t *testing.T) {
	const perShard = 5 * minReplayRing
	m := NewMemoryReplay(perShard * replayShards)
	exp := time.Now().Add(time.Hour)
	key := func(i int) ReplayKey {
		var k ReplayKey // shard 0: the first 8 bytes stay 0 mod 16
		binary.BigEndian.PutUint64(k[8:], uint64(i))
		return k
	}
	if got := len(m.shards[0].order); got != minReplayRing {
		t.Fatalf("a new shard holds a ring of %d, want %d", got, minReplayRing)
	}
	for i := range perShard {
		if fresh, err := m.Claim(bg, key(i), exp); !fresh || err != nil {
			t.Fatalf("proof %d: %v %v", i, fresh, err)
		}
	}
	for i := range perShard {
		if fresh, err := m.Claim(bg, key(i), exp); fresh || err != nil {
			t.Fatalf("proof %d replayed after the ring grew: %v %v", i, fresh, err)
		}
	}
	if _, err := m.Claim(bg, key(perShard), exp); err != ErrReplayStoreFull {
		t.Fatalf("past the capacity: %v, want ErrReplayStoreFull", err)
	}
	if got := len(m.shards[0].order); got != perShard {
		t.Errorf("full ring of %d, want %d", got, perShard)
	}
}

// TestNormalizeHTU pins the comparison form.
func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.COM:443/a/b?x#y":  "https://example.com/a/b",
		"http://example.com:80":            "http://example.com/",
		"http://example.com:8080/%7euser/": "http://example.com:8080/~user/",
		"https://example.com/a/./b/../c":   "https://example.com/a/c",
		"https://example.com/%2fx%3a":      "https://example.com/%2Fx%3A",
		"https://[::1]:8443/x":             "https://[::1]:8443/x",
	} {
		got, err := NormalizeHTU(in)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://example.com/", "https://user@example.com/", "/relative", "https:opaque", "https:///nohost"} {
		if got, err := NormalizeHTU(bad); err == nil {
			t.Errorf("%s accepted as %q", bad, got)
		}
	}
}

// TestHeaderCacheSkipsNoCheck: once a client's header is cached, proofs
// with that header are still held to every claim and to the signature, and
// a header that failed its checks is never cached.
func TestHeaderCacheSkipsNoCheck(t *testing.T) {
	k, other := ecKey(t), ecKey(t)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "t", JKT: Thumbprint(&k.PublicKey)}
	c := newTestChecker(t, nil)
	h, cl := proofParts(k, req, "first")
	if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e != nil {
		t.Fatal(e)
	}
	h, cl = proofParts(k, req, "forged")
	if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, other, h, cl), req); e == nil || e.Detail != "bad_signature" {
		t.Fatalf("cached header, other signer: %+v", e)
	}
	h, cl = proofParts(k, req, "m")
	cl["htm"] = "DELETE"
	if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e == nil || e.Detail != "wrong_method" {
		t.Fatalf("cached header, other method: %+v", e)
	}
	bound := req
	bound.JKT = Thumbprint(&other.PublicKey)
	h, cl = proofParts(k, bound, "k")
	if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), bound); e == nil || e.Detail != "wrong_key" {
		t.Fatalf("cached header, token bound to another key: %+v", e)
	}
	c2 := newTestChecker(t, func(cfg *Config) { cfg.Algorithms = []string{"EdDSA"} })
	c2.headers = c.headers // a shared cache must not widen the algorithm list
	h, cl = proofParts(k, req, "alg")
	if _, e := c2.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e == nil || e.Detail != "algorithm" {
		t.Fatalf("cached header, algorithm not allowed here: %+v", e)
	}
	priv := ecJWK(k)
	priv["d"] = "AAAA"
	h, cl = proofParts(k, req, "p")
	h["jwk"] = priv
	for range 2 {
		if _, e := c.Check(bg, sign(t, jwt.SigningMethodES256, k, h, cl), req); e == nil || e.Detail != "private_key" {
			t.Fatalf("private jwk: %+v", e)
		}
	}
}
