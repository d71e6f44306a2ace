package assertion

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
)

// minRSABits is the smallest RSA modulus accepted from the JWKS.
const minRSABits = 2048

// publicKey is one of the gateway's verification keys.
type publicKey struct {
	id  string
	alg string // the JWK's alg; empty: any algorithm of its type
	key crypto.PublicKey
}

// keySet is an immutable snapshot of the gateway's keys, by kid.
type keySet struct {
	byID map[string]publicKey
}

type jwk struct {
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

// parseJWKS decodes a JWK Set. Keys without a kid, not meant for
// signatures, of a type the gateway never uses, malformed or weak are
// skipped; of two keys with one kid the first is kept. A set with no usable
// key is an error.
func parseJWKS(body []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("not a JSON Web Key Set")
	}
	ks := &keySet{byID: make(map[string]publicKey, len(doc.Keys))}
	for _, raw := range doc.Keys {
		var j jwk
		if json.Unmarshal(raw, &j) != nil || j.Kid == "" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		if _, dup := ks.byID[j.Kid]; dup {
			continue
		}
		pub, err := j.publicKey()
		if err != nil {
			continue
		}
		ks.byID[j.Kid] = publicKey{id: j.Kid, alg: j.Alg, key: pub}
	}
	if len(ks.byID) == 0 {
		return nil, fmt.Errorf("no usable key (with a kid: RSA of at least %d bits, EC P-256 or Ed25519)", minRSABits)
	}
	return ks, nil
}

func b64field(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url field")
	}
	return b, nil
}

func (j *jwk) publicKey() (crypto.PublicKey, error) {
	switch j.Kty {
	case "RSA":
		nb, err := b64field(j.N)
		if err != nil {
			return nil, err
		}
		eb, err := b64field(j.E)
		if err != nil {
			return nil, err
		}
		n := new(big.Int).SetBytes(nb)
		if n.BitLen() < minRSABits {
			return nil, errors.New("RSA key too small")
		}
		e := new(big.Int).SetBytes(eb)
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
			return nil, errors.New("RSA exponent out of range")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, errors.New("EC curve not supported")
		}
		x, err := b64field(j.X)
		if err != nil {
			return nil, err
		}
		y, err := b64field(j.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("EC coordinates must be 32 bytes")
		}
		point := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, errors.New("OKP curve not supported")
		}
		x, err := b64field(j.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key of the wrong size")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("key type not supported")
}

// fits reports whether k may verify a signature made with alg.
func (k publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.key.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	case *rsa.PublicKey:
		return alg == "RS256" || alg == "PS256"
	}
	return false
}
