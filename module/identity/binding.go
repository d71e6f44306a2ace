package identity

// Token binding methods (TokenBinding.Method), also the value of the
// X-Auth-Token-Binding header.
const (
	// BindingDPoP: the token carries cnf.jkt and each request a DPoP proof
	// signed by that key (RFC 9449).
	BindingDPoP = "dpop"
	// BindingMTLS: the token carries cnf["x5t#S256"] and the request came
	// on a TLS connection with that client certificate (RFC 8705).
	BindingMTLS = "mtls"
)

// TokenBinding says which key a sender-constrained token is bound to. It
// is set when the token is verified (before the identity is cached) from
// the token's `cnf` claim; the gateway checks the binding on every request
// before the identity is used.
type TokenBinding struct {
	// Method is BindingDPoP or BindingMTLS.
	Method string
	// Thumbprint is the token's cnf.jkt (the RFC 7638 thumbprint of the
	// proof key) or cnf["x5t#S256"] (the SHA-256 thumbprint of the client
	// certificate), base64url, as the token states it. A signed assertion
	// can repeat it in its own `cnf` claim under the same member name
	// (CnfMember).
	Thumbprint string
}

// CnfMember is the RFC 7800 confirmation member the thumbprint belongs
// under: "jkt" for DPoP, "x5t#S256" for mTLS.
func (b *TokenBinding) CnfMember() string {
	if b.Method == BindingMTLS {
		return "x5t#S256"
	}
	return "jkt"
}

// bindingMethod is the X-Auth-Token-Binding value of id ("" when unbound).
func bindingMethod(id *Identity) string {
	if id.Binding == nil {
		return ""
	}
	return id.Binding.Method
}
