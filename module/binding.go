package edgeauth

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/dpop"
	"github.com/edgeauth/caddy-edgeauth/module/endpoint"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// credential is the access token a request presents in Authorization.
type credential struct {
	token string
	dpop  bool // the DPoP scheme (RFC 9449 §7.1) rather than Bearer
}

// presentedCredential reads `Authorization: Bearer <token>` or
// `Authorization: DPoP <token>` (schemes case-insensitive). Other schemes
// count as no credential; a token in the query string is never read.
func presentedCredential(r *http.Request) (credential, bool) {
	if tok, ok := bearerToken(r); ok {
		return credential{token: tok}, true
	}
	auth := r.Header.Get("Authorization")
	const scheme = "dpop "
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return credential{}, false
	}
	return credential{token: strings.TrimSpace(auth[len(scheme):]), dpop: true}, true
}

// bindingRefusal is a request refused for its token's binding: a
// sender-constrained token without its proof, a DPoP proof that fails, a
// certificate that does not match, or an unbound token where bound ones
// are required.
type bindingRefusal struct {
	provider    string          // the token's provider
	reason      decision.Reason // invalid_token, invalid_dpop_proof, use_dpop_nonce, store_unavailable
	errCode     string          // invalid_token, invalid_dpop_proof, use_dpop_nonce
	description string
	detail      string // fixed code for the decision log
	algs        string // DPoP challenge algs="…"
	bearerOK    bool   // bearer tokens are accepted: add the Bearer challenge
	nonce       string // DPoP-Nonce to send
	retryAfter  time.Duration
	unavailable bool
}

// tokenBinding reads a verified token's `cnf` claim (RFC 7800): nil for an
// unbound token; a binding for cnf.jkt (DPoP) or cnf["x5t#S256"] (mTLS).
// A cnf of another shape, with both or with neither member, is refused: a
// binding the gateway cannot check must not pass as none.
func tokenBinding(claims map[string]any) (*identity.TokenBinding, *token.Error) {
	v, present := claims["cnf"]
	if !present {
		return nil, nil
	}
	cnf, ok := v.(map[string]any)
	if !ok {
		return nil, &token.Error{Kind: token.Invalid, Code: token.CodeInvalidClaim, Description: "invalid cnf claim"}
	}
	jkt, hasJKT := cnf["jkt"]
	x5t, hasX5t := cnf["x5t#S256"]
	switch {
	case hasJKT && hasX5t:
		return nil, &token.Error{Kind: token.Invalid, Code: token.CodeUnsupportedBinding, Description: "token bound by two confirmation methods (cnf jkt and x5t#S256); one is supported at a time"}
	case hasJKT:
		s, ok := jkt.(string)
		if !ok || s == "" {
			return nil, &token.Error{Kind: token.Invalid, Code: token.CodeInvalidClaim, Description: "invalid cnf claim"}
		}
		return &identity.TokenBinding{Method: identity.BindingDPoP, Thumbprint: s}, nil
	case hasX5t:
		s, ok := x5t.(string)
		if !ok || s == "" {
			return nil, &token.Error{Kind: token.Invalid, Code: token.CodeInvalidClaim, Description: "invalid cnf claim"}
		}
		return &identity.TokenBinding{Method: identity.BindingMTLS, Thumbprint: s}, nil
	}
	return nil, &token.Error{Kind: token.Invalid, Code: token.CodeUnsupportedBinding, Description: "token bound by a confirmation method this gateway does not check (cnf without jkt or x5t#S256)"}
}

// bindingOrError is tokenBinding with a plain error result.
func bindingOrError(claims map[string]any) (*identity.TokenBinding, error) {
	b, e := tokenBinding(claims)
	if e != nil {
		return nil, e
	}
	return b, nil
}

// providerOf returns the route's provider of that name (nil: none).
func (b *bearerAuth) providerOf(name string) *provider {
	for _, p := range b.providers {
		if p.name == name {
			return p
		}
	}
	return nil
}

// checkBinding holds a verified token to its binding for this request. It
// returns the DPoP-Nonce to send with a successful answer ("" for none).
// tokenHash, when not nil, is SHA-256(cred.token), already computed for the
// cache; the proof's ath is checked against it.
func (b *bearerAuth) checkBinding(r *http.Request, cred credential, id *identity.Identity, tokenHash *[sha256.Size]byte) (string, *bindingRefusal) {
	p := b.providerOf(id.Provider)
	if p == nil || p.dpop == nil {
		// Not reached: authenticate only answers for the route's providers.
		return "", &bindingRefusal{reason: decision.ReasonInvalidToken, errCode: "invalid_token", description: "token is not valid", detail: "other", bearerOK: true}
	}
	refuse := func(reason decision.Reason, code, desc, detail string) *bindingRefusal {
		rf := &bindingRefusal{provider: p.name, reason: reason, errCode: code, description: desc, detail: detail, algs: p.dpop.Algorithms(), bearerOK: !p.dpopRequired}
		if n := p.dpop.Nonces(); n != nil && code != "invalid_token" {
			rf.nonce = n.Current()
		}
		return rf
	}
	bind := id.Binding
	if !cred.dpop {
		switch {
		case bind == nil && p.dpopRequired:
			return "", refuse(decision.ReasonInvalidToken, "invalid_token", "this provider requires DPoP-bound tokens", string(token.CodeDPoPRequired))
		case bind == nil:
			return "", nil
		case bind.Method == identity.BindingDPoP:
			return "", refuse(decision.ReasonInvalidToken, "invalid_token", "DPoP-bound token presented as a bearer token; send it with the DPoP scheme and a proof", string(token.CodeSenderConstrained))
		case bind.Method == identity.BindingMTLS:
			if !clientCertificateMatches(r, bind.Thumbprint) {
				return "", refuse(decision.ReasonInvalidToken, "invalid_token", "certificate-bound token presented without its client certificate", string(token.CodeWrongCertificate))
			}
			return "", nil
		}
	}
	if bind == nil || bind.Method != identity.BindingDPoP {
		return "", refuse(decision.ReasonInvalidToken, "invalid_token", "token is not DPoP-bound (no cnf.jkt); send it with the Bearer scheme", string(token.CodeNotBound))
	}
	proofs := dpopHeaderValues(r)
	switch {
	case len(proofs) == 0 || proofs[0] == "":
		return "", refuse(decision.ReasonInvalidDPoPProof, dpop.CodeInvalidProof, "DPoP proof missing (send one DPoP header)", "missing")
	case len(proofs) > 1:
		return "", refuse(decision.ReasonInvalidDPoPProof, dpop.CodeInvalidProof, "more than one DPoP header", "duplicate_header")
	}
	res, e := p.dpop.Check(r.Context(), proofs[0], dpop.Request{
		Method:      r.Method,
		URL:         b.requestHTU(r),
		AccessToken: cred.token,
		TokenSHA256: tokenHash,
		JKT:         bind.Thumbprint,
	})
	if e != nil {
		switch {
		case e.Unavailable:
			rf := refuse(decision.ReasonStoreUnavailable, "temporarily_unavailable", e.Description, e.Detail)
			rf.unavailable, rf.retryAfter, rf.nonce = true, e.RetryAfter, ""
			return "", rf
		case e.Code == dpop.CodeUseNonce:
			return "", refuse(decision.ReasonUseDPoPNonce, dpop.CodeUseNonce, e.Description, e.Detail)
		}
		return "", refuse(decision.ReasonInvalidDPoPProof, dpop.CodeInvalidProof, e.Description, e.Detail)
	}
	return res.NextNonce, nil
}

// dpopHeaderValues returns every DPoP field of the request, in any spelling
// of the name (Go canonicalises "dpop" to "Dpop"; a map built otherwise may
// hold "DPoP").
func dpopHeaderValues(r *http.Request) []string {
	var out []string
	for k, v := range r.Header {
		if strings.EqualFold(k, "DPoP") {
			out = append(out, v...)
		}
	}
	return out
}

// requestHTU is the URL a proof's htu must name: the configured dpop_origin
// or the scheme of this connection (https when it is TLS) and the Host the
// client sent, then the path the client sent (before any rewrite), without
// query; all in dpop.NormalizeHTU's form. X-Forwarded-* headers are never
// read.
func (b *bearerAuth) requestHTU(r *http.Request) string {
	path := r.URL.EscapedPath()
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		path = orig.URL.EscapedPath()
	}
	origin := b.origin
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		// The Host's port is the client's choice (host matchers ignore
		// it): a proof made for another port of this name must not pass.
		o, err := dpop.NormalizeOrigin(scheme, endpoint.RoutedHost(r))
		if err != nil {
			return "" // matches no proof (NormalizeHTU never yields "")
		}
		origin = o
	}
	return origin + dpop.NormalizePath(path)
}

// clientCertificateMatches reports whether the TLS client certificate of
// the connection has the SHA-256 thumbprint x5t (base64url, RFC 8705 §3.1).
func clientCertificateMatches(r *http.Request, x5t string) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:]) == x5t
}

// dpopChallenge is the `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1):
// algs, and the error with its description when errCode is set.
func dpopChallenge(algs, errCode, description string) string {
	var b strings.Builder
	b.WriteString(`DPoP algs=`)
	b.WriteString(quote(algs))
	if errCode != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(errCode))
		if description != "" {
			b.WriteString(`, error_description=`)
			b.WriteString(quote(description))
		}
	}
	return b.String()
}

// challenges returns the WWW-Authenticate fields of a binding refusal: the
// DPoP challenge, carrying the error unless it is the Bearer scheme's
// (invalid_token for a token presented as Bearer), and the Bearer challenge
// when bearer tokens are accepted.
func (rf *bindingRefusal) challenges(r *http.Request, presentedDPoP bool) (string, string) {
	if !rf.bearerOK {
		return dpopChallenge(rf.algs, rf.errCode, rf.description), ""
	}
	bearer := `Bearer realm=` + quote(r.Host)
	if rf.errCode == "invalid_token" && !presentedDPoP {
		bearer += `, error="invalid_token", error_description=` + quote(rf.description)
		return bearer, dpopChallenge(rf.algs, "", "")
	}
	return dpopChallenge(rf.algs, rf.errCode, rf.description), bearer
}

// denial turns a binding refusal into the gateway's answer: 401 with the
// challenges and the JSON body (503 with Retry-After when the replay store
// is down).
func (rf *bindingRefusal) denial(r *http.Request, presentedDPoP bool) *denial {
	if rf.unavailable {
		return unavailableDenial(rf.reason, "temporarily_unavailable", rf.description, rf.retryAfter, nil)
	}
	d := jsonDenial(http.StatusUnauthorized, rf.reason, errorBody{Error: rf.errCode, Description: rf.description}, nil)
	d.challenge, d.challenge2 = rf.challenges(r, presentedDPoP)
	d.dpopNonce = rf.nonce
	return d
}

// dpopTokenChallenges are the challenges for a token that failed
// verification when it came with the DPoP scheme: the DPoP challenge with
// invalid_token, and a plain Bearer challenge.
func (b *bearerAuth) dpopTokenChallenges(r *http.Request, description string) (string, string) {
	algs := strings.Join(dpop.SupportedAlgorithms, " ")
	if len(b.providers) == 1 && b.providers[0].dpop != nil {
		algs = b.providers[0].dpop.Algorithms()
	}
	return dpopChallenge(algs, "invalid_token", description), `Bearer realm=` + quote(r.Host)
}

// authenticateRequest verifies the presented token (through the cache) and
// holds it to its binding. tokenErr is a verification failure (answered
// as today); refusal a binding failure; nonce a DPoP-Nonce for the answer.
func (b *bearerAuth) authenticateRequest(r *http.Request, cred credential) (id *identity.Identity, nonce string, tokenErr error, refusal *bindingRefusal) {
	var key token.Key
	id, hashed, err := b.authenticate(r.Context(), cred.token, &key)
	if err != nil {
		return nil, "", err, nil
	}
	var tokenHash *[sha256.Size]byte // the proof's ath is over the same SHA-256
	if hashed {
		tokenHash = (*[sha256.Size]byte)(&key)
	}
	nonce, refusal = b.checkBinding(r, cred, id, tokenHash)
	if refusal != nil {
		return nil, "", nil, refusal
	}
	return id, nonce, nil, nil
}

// Error makes a refusal usable as the technical error an authenticator
// returns (for a replay store outage).
func (rf *bindingRefusal) Error() string { return rf.description }

// setOrigin checks and keeps a dpop_origin: an http or https URL with a
// host and nothing after it.
func (b *bearerAuth) setOrigin(origin string) error {
	if origin == "" {
		return nil
	}
	o, err := parseDPoPOrigin(origin)
	if err != nil {
		return err
	}
	b.origin = o
	return nil
}

// parseDPoPOrigin validates a dpop_origin and returns it in comparison form.
func parseDPoPOrigin(origin string) (string, error) {
	n, err := dpop.NormalizeHTU(origin)
	if err != nil || strings.ContainsAny(origin, "?#") || !strings.HasSuffix(n, "/") || strings.Count(n, "/") != 3 {
		return "", fmt.Errorf("edgeauth: dpop_origin %q: give the scheme and host the clients use, e.g. `dpop_origin https://api.example.com` (no path, query or user)", origin)
	}
	return strings.TrimSuffix(n, "/"), nil
}

// dpopOffer is the DPoP challenge sent beside the Bearer one when a
// request has no credential (RFC 9449 §7.1: it tells clients which proof
// algorithms are accepted): `DPoP algs="…"` of the route's sole provider,
// or every supported algorithm.
func (b *bearerAuth) dpopOffer() string {
	algs := strings.Join(dpop.SupportedAlgorithms, " ")
	if len(b.providers) == 1 && b.providers[0].dpop != nil {
		algs = b.providers[0].dpop.Algorithms()
	}
	return dpopChallenge(algs, "", "")
}
