package demoidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one key pair; removed keys keep their private half so that
// tests can still mint tokens with a key the JWKS no longer lists.
type signingKey struct {
	kid       string
	alg       string
	private   crypto.Signer
	published bool
}

// keySet holds the signing keys in creation order.
type keySet struct {
	mu      sync.RWMutex
	keys    []*signingKey
	current string
}

// supportedAlgs are the algorithms AddKey can create.
var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}

func generateKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "EdDSA":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("demoidp: unsupported key algorithm %q (use one of %v)", alg, supportedAlgs)
	}
	if err != nil {
		return nil, fmt.Errorf("demoidp: generating %s key: %w", alg, err)
	}
	k := &signingKey{alg: alg, private: priv, published: true}
	k.kid = thumbprint(k.public())
	return k, nil
}

func (k *signingKey) public() crypto.PublicKey { return k.private.Public() }

// method returns the golang-jwt signing method for the key's algorithm.
func (k *signingKey) method() jwt.SigningMethod { return jwt.GetSigningMethod(k.alg) }

// jwkFields returns the public JWK members that identify the key (RFC 7517/7518/8037).
func jwkFields(pub crypto.PublicKey) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		p.X.FillBytes(x)
		p.Y.FillBytes(y)
		return map[string]string{"kty": "EC", "crv": p.Curve.Params().Name, "x": b64(x), "y": b64(y)}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	}
	panic(fmt.Sprintf("demoidp: unexpected public key type %T", pub))
}

// PublicJWK returns the members that describe pub as a JWK (kty and the
// key's own members; no kid, alg or use), the form the JWKS endpoint
// publishes. It is for tests that build a key set by hand; it panics on a
// key type other than RSA, ECDSA or Ed25519.
func PublicJWK(pub crypto.PublicKey) map[string]string { return jwkFields(pub) }

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url), used as kid.
func thumbprint(pub crypto.PublicKey) string {
	f := jwkFields(pub)
	required := map[string][]string{"RSA": {"e", "kty", "n"}, "EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}}[f["kty"]]
	m := make(map[string]string, len(required))
	for _, name := range required {
		m[name] = f[name]
	}
	b, _ := json.Marshal(m) // encoding/json sorts map keys: the canonical form
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// jwk returns the published form of the key.
func (k *signingKey) jwk() map[string]string {
	f := jwkFields(k.public())
	f["kid"], f["alg"], f["use"] = k.kid, k.alg, "sig"
	return f
}

func (ks *keySet) add(k *signingKey, makeCurrent bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys = append(ks.keys, k)
	if makeCurrent || ks.current == "" {
		ks.current = k.kid
	}
}

func (ks *keySet) get(kid string) *signingKey {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	for _, k := range ks.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

func (ks *keySet) currentKey() (*signingKey, error) {
	ks.mu.RLock()
	kid := ks.current
	ks.mu.RUnlock()
	if k := ks.get(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("demoidp: no current signing key: all keys were removed; call RotateKey")
}

func (ks *keySet) publishedJWKs() []map[string]string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := []map[string]string{}
	for _, k := range ks.keys {
		if k.published {
			out = append(out, k.jwk())
		}
	}
	return out
}

func (ks *keySet) publishedAlgs() []string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	seen := map[string]bool{}
	out := []string{}
	for _, k := range ks.keys {
		if k.published && !seen[k.alg] {
			seen[k.alg] = true
			out = append(out, k.alg)
		}
	}
	return out
}

// RotateKey adds a new RSA-2048 (RS256) key, makes it the current signing key
// and keeps the previous keys published (rotation overlap). It returns the new
// kid. Use RemoveKey to retire an old key.
func (s *Server) RotateKey() string {
	k, err := generateKey("RS256")
	if err != nil {
		panic(err) // only crypto/rand failures get here
	}
	s.keys.add(k, true)
	return k.kid
}

// AddKey generates and publishes a key for alg (RS256, RS384, RS512, PS256,
// PS384, PS512, ES256, ES384 or EdDSA) without making it current; sign with it
// through WithKID or make it current with UseKey. It panics on any other alg,
// which is a mistake in the calling test.
func (s *Server) AddKey(alg string) string {
	k, err := generateKey(alg)
	if err != nil {
		panic(err)
	}
	s.keys.add(k, false)
	return k.kid
}

// UseKey makes kid the current signing key for /token and Mint, publishing it
// again if it had been removed.
func (s *Server) UseKey(kid string) error {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for _, k := range s.keys.keys {
		if k.kid == kid {
			k.published = true
			s.keys.current = kid
			return nil
		}
	}
	return fmt.Errorf("demoidp: unknown kid %q", kid)
}

// RemoveKey stops publishing kid in the JWKS and reports whether it was
// published. The private key is kept, so WithKID can still sign with it (a
// "retired key" test). If kid was current, the newest published key becomes
// current; with none left, Mint and /token fail until RotateKey.
func (s *Server) RemoveKey(kid string) bool {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	removed := false
	for _, k := range s.keys.keys {
		if k.kid == kid && k.published {
			k.published = false
			removed = true
		}
	}
	if removed && s.keys.current == kid {
		s.keys.current = ""
		for i := len(s.keys.keys) - 1; i >= 0; i-- {
			if s.keys.keys[i].published {
				s.keys.current = s.keys.keys[i].kid
				break
			}
		}
	}
	return removed
}

// CurrentKID returns the kid of the current signing key ("" if none).
func (s *Server) CurrentKID() string {
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return s.keys.current
}

// PublishedKIDs returns the kids listed in the JWKS, oldest first.
func (s *Server) PublishedKIDs() []string {
	var out []string
	for _, j := range s.keys.publishedJWKs() {
		out = append(out, j["kid"])
	}
	return out
}

// PublicKey returns the public key for kid (published or not), or nil.
func (s *Server) PublicKey(kid string) crypto.PublicKey {
	if k := s.keys.get(kid); k != nil {
		return k.public()
	}
	return nil
}
