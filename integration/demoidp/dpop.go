package demoidp

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Sender-constrained tokens. A token request that carries a DPoP proof
// (RFC 9449 §5) gets an access token bound to the proof's key: a JWT with
// cnf.jkt, or an opaque token whose introspection answer states cnf.jkt and
// token_type DPoP; the response's token_type is DPoP. The proof is checked
// with lestrrat-go/jwx (signature by its own jwk, typ, htm, htu), never with
// the gateway's code. Mint binds tokens directly with WithJKT or
// WithCertificate.

// WithJKT binds a minted token to a DPoP key: cnf.jkt = jkt (the key's RFC
// 7638 SHA-256 thumbprint).
func WithJKT(jkt string) MintOption {
	return WithClaims(map[string]any{"cnf": map[string]any{"jkt": jkt}})
}

// WithCertificate binds a minted token to a TLS client certificate (RFC 8705
// §3.1): cnf["x5t#S256"] = base64url(SHA-256(der)).
func WithCertificate(der []byte) MintOption {
	sum := sha256.Sum256(der)
	return WithClaims(map[string]any{"cnf": map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}})
}

type jktKey struct{}

// withTokenRequestJKT checks the token request's DPoP proof, if any, and
// returns the request carrying the proof key's thumbprint; ok is false
// after it answered 400 invalid_dpop_proof.
func (s *Server) withTokenRequestJKT(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	proofs := r.Header.Values("DPoP")
	if len(proofs) == 0 {
		return r, true
	}
	jkt, ok := s.checkTokenProof(proofs)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", "the DPoP proof is not valid for this token request")
		return nil, false
	}
	return r.WithContext(context.WithValue(r.Context(), jktKey{}, jkt)), true
}

// requestJKT is the thumbprint withTokenRequestJKT found ("" for none).
func requestJKT(r *http.Request) string {
	jkt, _ := r.Context().Value(jktKey{}).(string)
	return jkt
}

// checkTokenProof verifies one proof for POST <token endpoint>.
func (s *Server) checkTokenProof(proofs []string) (string, bool) {
	if len(proofs) != 1 {
		return "", false
	}
	msg, err := jws.Parse([]byte(proofs[0]))
	if err != nil || len(msg.Signatures()) != 1 {
		return "", false
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	typ, _ := hdr.Type()
	key, hasKey := hdr.JWK()
	alg, hasAlg := hdr.Algorithm()
	if typ != "dpop+jwt" || !hasKey || !hasAlg {
		return "", false
	}
	if _, err := jws.Verify([]byte(proofs[0]), jws.WithKey(jwa.SignatureAlgorithm(alg), key)); err != nil {
		return "", false
	}
	var claims struct {
		HTM string `json:"htm"`
		HTU string `json:"htu"`
	}
	if json.Unmarshal(msg.Payload(), &claims) != nil || claims.HTM != http.MethodPost || claims.HTU != s.issuer+PathToken {
		return "", false
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(tp), true
}
