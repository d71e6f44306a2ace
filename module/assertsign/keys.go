package assertsign

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
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one private key with its key ID and algorithm.
type signingKey struct {
	kid     string
	alg     string
	method  jwt.SigningMethod
	private crypto.Signer
	created time.Time // zero for a key_file key
	jwk     publicJWK
}

// methodFor returns golang-jwt's signing method for alg.
func methodFor(alg string) (jwt.SigningMethod, error) {
	switch alg {
	case ES256:
		return jwt.SigningMethodES256, nil
	case EdDSA:
		return jwt.SigningMethodEdDSA, nil
	case RS256:
		return jwt.SigningMethodRS256, nil
	case PS256:
		return jwt.SigningMethodPS256, nil
	}
	return nil, fmt.Errorf("%q is not supported; use ES256 (default), EdDSA, RS256 or PS256", alg)
}

// generate makes a new private key for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256, PS256:
		return rsa.GenerateKey(rand.Reader, minRSABits)
	}
	return nil, fmt.Errorf("algorithm %q is not supported", alg)
}

// newSigningKey checks that private suits alg and derives its key ID: the
// RFC 7638 thumbprint of the public key, so that the same key always has
// the same kid and a kid names exactly one key.
func newSigningKey(alg string, private crypto.Signer, created time.Time) (*signingKey, error) {
	method, err := methodFor(alg)
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWKOf(alg, private.Public())
	if err != nil {
		return nil, err
	}
	kid, err := jwk.thumbprint()
	if err != nil {
		return nil, err
	}
	jwk.Kid, jwk.Alg, jwk.Use = kid, alg, "sig"
	return &signingKey{kid: kid, alg: alg, method: method, private: private, created: created, jwk: jwk}, nil
}

// parsePrivatePEM reads one PEM private key (PKCS #8, or SEC 1 "EC
// PRIVATE KEY", or PKCS #1 "RSA PRIVATE KEY").
func parsePrivatePEM(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found; give a PEM private key (-----BEGIN PRIVATE KEY-----)")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block; the file must hold exactly one private key")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key; use PRIVATE KEY (PKCS #8), EC PRIVATE KEY or RSA PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %v", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T cannot sign", key)
	}
	return signer, nil
}

// marshalPrivatePEM writes a private key as PKCS #8 PEM.
func marshalPrivatePEM(key crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// checkKeyFor reports whether key is of the type alg signs with (and, for
// RSA, of at least 2048 bits).
func checkKeyFor(alg string, key crypto.Signer) error {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if alg != ES256 {
			return fmt.Errorf("an EC key cannot sign %s; set `algorithm ES256` or give a key for %s", alg, alg)
		}
		if k.Curve != elliptic.P256() {
			return fmt.Errorf("the EC key is on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
		if alg != EdDSA {
			return fmt.Errorf("an Ed25519 key cannot sign %s; set `algorithm EdDSA` or give a key for %s", alg, alg)
		}
	case *rsa.PrivateKey:
		if alg != RS256 && alg != PS256 {
			return fmt.Errorf("an RSA key cannot sign %s; set `algorithm RS256` or `algorithm PS256`, or give a key for %s", alg, alg)
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("the RSA key has %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
	default:
		return fmt.Errorf("key type %T is not supported; use EC P-256, Ed25519 or RSA", key)
	}
	return nil
}

// publicJWK is a public key as RFC 7517 writes it. Members not used by a
// key type are omitted.
type publicJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// publicJWKOf encodes pub for alg (without kid, alg and use).
func publicJWKOf(alg string, pub crypto.PublicKey) (publicJWK, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		ecdh, err := k.ECDH() // validates the point; its bytes are 0x04 || X || Y
		if err != nil {
			return publicJWK{}, fmt.Errorf("EC public key: %v", err)
		}
		raw := ecdh.Bytes()
		size := (len(raw) - 1) / 2
		return publicJWK{Kty: "EC", Crv: "P-256", X: b64(raw[1 : 1+size]), Y: b64(raw[1+size:])}, nil
	case ed25519.PublicKey:
		return publicJWK{Kty: "OKP", Crv: "Ed25519", X: b64(k)}, nil
	case *rsa.PublicKey:
		return publicJWK{Kty: "RSA", N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}, nil
	}
	return publicJWK{}, fmt.Errorf("public key type %T is not supported", pub)
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of the key, base64url: the
// hash of the required members in lexicographic order, no white space.
func (j publicJWK) thumbprint() (string, error) {
	var members any
	switch j.Kty {
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{j.Crv, j.Kty, j.X, j.Y}
	case "OKP":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{j.Crv, j.Kty, j.X}
	case "RSA":
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{j.E, j.Kty, j.N}
	default:
		return "", fmt.Errorf("key type %q has no thumbprint", j.Kty)
	}
	b, err := json.Marshal(members)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
