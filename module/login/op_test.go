package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// testOP is the test OpenID provider (demoidp) with its own authorization,
// token and end-session endpoints mounted on it (demoidp.Handle).
// /authorize redirects straight back with a code, /token checks client
// authentication and PKCE and returns tokens that demoidp signs (ID tokens,
// and at+jwt access tokens), /end_session says goodbye.
//
// Why these three endpoints stay here instead of using demoidp's own: the
// login tests need a provider that misbehaves on request — an ID token with
// another nonce or typ, a missing or forged iss callback parameter, an
// authorization error, expires_in as a string or any JSON value, scope
// omitted, widened or narrowed on refresh, a slow or failing refresh, no or
// a rotated refresh token — and that counts and records authorization
// requests. demoidp's endpoints are standards-faithful and serve the demo and
// the integration tests; teaching them these faults would make every one of
// its users carry them. The host, the keys (one, kid "k1") and every
// signature are demoidp's.
type testOP struct {
	t        *testing.T
	idp      *demoidp.Server
	clientID string
	secret   string

	mu        sync.Mutex
	codes     map[string]codeGrant
	refreshes map[string]refreshGrant // valid refresh tokens

	// knobs (set before use, guarded by mu)
	nonceOverride     *string // put this nonce in ID tokens (nil: the requested one)
	issParam          *string // iss callback parameter (nil: none)
	authorizeError    string  // answer /authorize with this error
	errorDescription  string
	denyScopes        []string // never granted
	loginExpiresIn    int64
	refreshExpiresIn  any // JSON value of expires_in on refresh
	rotate            bool
	noRefreshToken    bool // refresh answers carry no refresh_token
	refreshIDToken    bool // refresh answers carry a new ID token
	failRefresh       bool
	idTokenTyp        string         // typ header of ID tokens ("": JWT, "-": none)
	idTokenExtra      map[string]any // extra ID token claims
	omitScope         bool           // token answers carry no scope member
	jwtAccessTokens   bool           // access tokens are JWTs with a scope claim of the granted scopes
	refreshScope      *string        // scope member of refresh answers (nil: none)
	refreshATScopes   []string       // scope claim of refreshed JWT access tokens (nil: the grant's)
	refreshDelay      time.Duration
	refreshCalls      atomic.Int32
	authorizeCalls    atomic.Int32
	lastAuthorizeArgs url.Values
}

type codeGrant struct {
	challenge, nonce, redirectURI string
	scopes                        []string
}

type refreshGrant struct {
	scopes []string
}

// Paths of testOP's own endpoints on the demoidp server.
const (
	opAuthorize  = "/testop/authorize"
	opToken      = "/testop/token"
	opEndSession = "/testop/end_session"
)

func newTestOP(t *testing.T) *testOP {
	idp := demoidp.ForTest(t, demoidp.Options{PlainHTTP: true, KeyID: "k1"})
	op := &testOP{t: t, idp: idp, clientID: "4000000000000000001", secret: "client-secret-value",
		codes: map[string]codeGrant{}, refreshes: map[string]refreshGrant{}, loginExpiresIn: 3600, refreshExpiresIn: 3600}
	idp.Handle(opAuthorize, http.HandlerFunc(op.authorize))
	idp.Handle(opToken, http.HandlerFunc(op.token))
	idp.Handle(opEndSession, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "signed out at the provider") }))
	return op
}

func (op *testOP) issuer() string { return op.idp.Issuer() }

func (op *testOP) metadata() *oidc.Metadata {
	return &oidc.Metadata{
		Issuer:                            op.issuer(),
		AuthorizationEndpoint:             op.idp.URL() + opAuthorize,
		TokenEndpoint:                     op.idp.URL() + opToken,
		EndSessionEndpoint:                op.idp.URL() + opEndSession,
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic"},
	}
}

// mint has demoidp sign claims with its current key; typ is the typ header
// ("-": none).
func (op *testOP) mint(claims jwt.MapClaims, typ string) string {
	hdr := any(typ)
	if typ == "-" {
		hdr = nil
	}
	s, err := op.idp.Mint(claims, demoidp.WithoutDefaults(), demoidp.WithHeader("typ", hdr))
	if err != nil {
		op.t.Error(err)
	}
	return s
}

func (op *testOP) set(f func(op *testOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

func (op *testOP) authorize(w http.ResponseWriter, r *http.Request) {
	op.authorizeCalls.Add(1)
	q := r.URL.Query()
	op.mu.Lock()
	defer op.mu.Unlock()
	op.lastAuthorizeArgs = q
	if q.Get("client_id") != op.clientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := url.Values{"state": {q.Get("state")}}
	if op.authorizeError != "" {
		bq.Set("error", op.authorizeError)
		if op.errorDescription != "" {
			bq.Set("error_description", op.errorDescription)
		}
	} else {
		code := randomToken(16)
		nonce := q.Get("nonce")
		if op.nonceOverride != nil {
			nonce = *op.nonceOverride
		}
		op.codes[code] = codeGrant{challenge: q.Get("code_challenge"), nonce: nonce,
			redirectURI: q.Get("redirect_uri"), scopes: strings.Fields(q.Get("scope"))}
		bq.Set("code", code)
	}
	if op.issParam != nil {
		bq.Set("iss", *op.issParam)
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (op *testOP) idToken(nonce string, scopes []string) string {
	now := time.Now()
	claims := jwt.MapClaims{"iss": op.issuer(), "aud": op.clientID, "sub": "1000000000000001",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "name": "alice", "type": "user"}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if slices.Contains(scopes, "aliuid") {
		claims["aid"], claims["uid"] = "1000000000000000", "2000000000000002"
	}
	for k, v := range op.idTokenExtra {
		claims[k] = v
	}
	typ := op.idTokenTyp
	if typ == "" {
		typ = "JWT"
	}
	return op.mint(claims, typ)
}

// accessToken is an opaque access token (prefix and random text), or with jwtAccessTokens an
// at+jwt one whose scope claim lists scopes. Called with op.mu held.
func (op *testOP) accessToken(prefix string, scopes []string) string {
	if !op.jwtAccessTokens {
		return prefix + randomToken(8)
	}
	now := time.Now()
	return op.mint(jwt.MapClaims{"iss": op.issuer(), "aud": "resource-server",
		"sub": "1000000000000001", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": strings.Join(scopes, " ")}, "at+jwt")
}

func (op *testOP) granted(asked []string) []string {
	var out []string
	for _, s := range asked {
		if !slices.Contains(op.denyScopes, s) {
			out = append(out, s)
		}
	}
	return out
}

func (op *testOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		tokenErr(w, 401, "invalid_client", "client_secret_basic expected")
		return
	}
	if id, _ = url.QueryUnescape(id); id != op.clientID {
		tokenErr(w, 401, "invalid_client", "unknown client")
		return
	}
	if secret, _ = url.QueryUnescape(secret); secret != op.secret {
		tokenErr(w, 401, "invalid_client", "bad secret")
		return
	}
	_ = r.ParseForm()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		op.mu.Lock()
		g, found := op.codes[r.PostForm.Get("code")]
		delete(op.codes, r.PostForm.Get("code")) // one use
		op.mu.Unlock()
		switch {
		case !found:
			tokenErr(w, 400, "invalid_grant", "unknown or used code")
		case g.redirectURI != r.PostForm.Get("redirect_uri"):
			tokenErr(w, 400, "invalid_grant", "redirect_uri mismatch")
		case S256Challenge(r.PostForm.Get("code_verifier")) != g.challenge:
			tokenErr(w, 400, "invalid_grant", "PKCE verification failed")
		default:
			op.mu.Lock()
			rt := randomToken(24)
			scopes := op.granted(g.scopes)
			op.refreshes[rt] = refreshGrant{scopes: scopes}
			resp := map[string]any{"access_token": op.accessToken("AT-", scopes), "token_type": "Bearer",
				"expires_in": op.loginExpiresIn, "refresh_token": rt, "id_token": op.idToken(g.nonce, scopes),
				"scope": strings.Join(scopes, " ")}
			if op.omitScope {
				delete(resp, "scope")
			}
			op.mu.Unlock()
			writeJSON(w, 200, resp)
		}
	case "refresh_token":
		op.refreshCalls.Add(1)
		op.mu.Lock()
		delay := op.refreshDelay
		op.mu.Unlock()
		time.Sleep(delay)
		op.mu.Lock()
		defer op.mu.Unlock()
		rt := r.PostForm.Get("refresh_token")
		g, found := op.refreshes[rt]
		if !found || op.failRefresh {
			tokenErr(w, 400, "invalid_grant", "refresh token "+rt+" is invalid")
			return
		}
		atScopes := g.scopes
		if op.refreshATScopes != nil {
			atScopes = op.refreshATScopes
		}
		resp := map[string]any{"access_token": op.accessToken("AT-refreshed-", atScopes), "token_type": "Bearer", "expires_in": op.refreshExpiresIn}
		if op.refreshScope != nil {
			resp["scope"] = *op.refreshScope
		}
		if op.rotate {
			delete(op.refreshes, rt)
			nrt := randomToken(24)
			op.refreshes[nrt] = g
			resp["refresh_token"] = nrt
		} else if !op.noRefreshToken {
			resp["refresh_token"] = rt
		}
		if op.refreshIDToken {
			resp["id_token"] = op.idToken("", g.scopes)
		}
		writeJSON(w, 200, resp)
	default:
		tokenErr(w, 400, "unsupported_grant_type", "")
	}
}

func tokenErr(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// testProvider implements ProviderInfo.
type testProvider struct {
	mu   sync.Mutex
	meta *oidc.Metadata
}

func (p *testProvider) Name() string { return "testop" }
func (p *testProvider) Metadata() (*oidc.Metadata, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.meta, p.meta != nil
}
func (p *testProvider) HTTPClient() *http.Client { return &http.Client{Timeout: 5 * time.Second} }

// jwtVerifier is a small IDTokenVerifier built on golang-jwt: RS256 with
// the OP's current key, iss, aud, exp and iat. It is independent of the
// module's own token package on purpose: these tests are about the flow.
type jwtVerifier struct {
	op *testOP
}

func (v jwtVerifier) Verify(_ context.Context, raw string) (*identity.Identity, error) {
	tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return v.op.idp.PublicKey(v.op.idp.CurrentKID()), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(v.op.issuer()), jwt.WithAudience(v.op.clientID),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		return nil, errors.New("invalid ID token")
	}
	parts := strings.Split(raw, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, err
	}
	exp, _ := tok.Claims.GetExpirationTime()
	sub, _ := claims["sub"].(string)
	return &identity.Identity{Provider: "testop", Subject: sub, Issuer: v.op.issuer(), Claims: claims, Expiry: exp.Time}, nil
}
