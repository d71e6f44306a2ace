package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"go.uber.org/zap"
)

// MinRSABits is the smallest RSA modulus accepted from a JWKS.
const MinRSABits = 2048

// Key is one public signing key of a provider.
type Key struct {
	// ID is the JWK `kid` (may be empty).
	ID string
	// Algorithm is the JWK `alg` (may be empty: any algorithm of the key's
	// family).
	Algorithm string
	// Use is the JWK `use` ("sig" or empty).
	Use string
	// Public is *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey.
	Public crypto.PublicKey
}

// keySet is an immutable snapshot of a provider's keys.
type keySet struct {
	byID map[string]Key
	all  []Key
}

type jsonWebKey struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS decodes a JWK Set, keeping the usable signing keys. Keys that
// are not for signatures, fail to parse, or are too weak are skipped (logged
// at debug level).
func parseJWKS(body []byte, logger *zap.Logger) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not a valid JSON Web Key Set: %v", err)
	}
	ks := &keySet{byID: make(map[string]Key, len(doc.Keys))}
	for i, raw := range doc.Keys {
		var j jsonWebKey
		if err := json.Unmarshal(raw, &j); err != nil {
			logger.Debug("skipping JWKS entry that is not a JSON object", zap.Int("index", i))
			continue
		}
		if j.Use != "" && j.Use != "sig" {
			logger.Debug("skipping JWKS key not meant for signatures", zap.String("kid", j.Kid), zap.String("use", j.Use))
			continue
		}
		pub, err := j.publicKey()
		if err != nil {
			logger.Debug("skipping JWKS key", zap.String("kid", j.Kid), zap.String("kty", j.Kty), zap.Error(err))
			continue
		}
		k := Key{ID: j.Kid, Algorithm: j.Alg, Use: j.Use, Public: pub}
		if k.ID != "" {
			if _, dup := ks.byID[k.ID]; dup {
				logger.Debug("skipping JWKS key with a duplicate kid", zap.String("kid", k.ID))
				continue
			}
			ks.byID[k.ID] = k
		}
		ks.all = append(ks.all, k)
	}
	return ks, nil
}

func b64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%s is not base64url: %v", field, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is missing", field)
	}
	return b, nil
}

func (j *jsonWebKey) publicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		return j.rsaKey()
	case "EC":
		return j.ecKey()
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("OKP curve %q not supported", j.Crv)
		}
		x, err := b64("x", j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key has %d bytes, want %d", len(x), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	default:
		return nil, fmt.Errorf("key type %q not supported", j.Kty)
	}
}

func (j *jsonWebKey) rsaKey() (crypto.PublicKey, error) {
	nb, err := b64("n", j.N)
	if err != nil {
		return nil, err
	}
	eb, err := b64("e", j.E)
	if err != nil {
		return nil, err
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < MinRSABits {
		return nil, fmt.Errorf("RSA key has %d bits, at least %d are required", n.BitLen(), MinRSABits)
	}
	e := new(big.Int).SetBytes(eb)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return nil, errors.New("RSA exponent out of range")
	}
	return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
}

func (j *jsonWebKey) ecKey() (crypto.PublicKey, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("EC curve %q not supported", j.Crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := b64("x", j.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", j.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("EC coordinates must be %d bytes for %s", size, j.Crv)
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("EC point invalid: %v", err)
	}
	return pub, nil
}
