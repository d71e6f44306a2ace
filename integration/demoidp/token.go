package demoidp

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodPost) || !parseForm(w, r) {
		return
	}
	c, ok := s.authenticateClient(w, r, false)
	if !ok {
		return
	}
	if r, ok = s.withTokenRequestJKT(w, r); !ok {
		return
	}
	switch gt, _ := single(r.PostForm, "grant_type"); gt {
	case "authorization_code":
		s.codeGrant(w, r, c)
	case "refresh_token":
		s.refreshGrant(w, r, c)
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	}
}

func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request, c Client) {
	code := r.PostForm.Get("code")
	redirectURI := r.PostForm.Get("redirect_uri")
	verifier := r.PostForm.Get("code_verifier")
	now := s.opts.Now()

	s.mu.Lock()
	g, ok := s.state.codes[tokenKey(code)]
	if !ok || code == "" {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	}
	if g.clientID != c.ID {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was issued to another client")
		return
	}
	if g.used {
		// RFC 6749 §4.1.2: revoke what the code gave out before.
		for _, k := range g.issued {
			if t := s.state.access[k]; t != nil {
				t.revoked = true
			}
			if t := s.state.refresh[k]; t != nil {
				t.revoked = true
			}
		}
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code was already used; tokens issued from it are revoked")
		return
	}
	g.used = true // any attempt consumes the code
	s.mu.Unlock()

	switch {
	case now.After(g.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the authorization code expired")
		return
	case redirectURI != g.redirectURI:
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the one in the authorization request")
		return
	}
	if desc := checkPKCE(g.challenge, g.method, verifier); desc != "" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", desc)
		return
	}
	resp, keys, err := s.issue(issueRequest{
		jkt: requestJKT(r), client: c, user: g.user, scopes: g.scopes, sid: g.sid, nonce: g.nonce, authTime: g.authTime,
		refresh: g.offline, idToken: slices.Contains(g.scopes, "openid"), family: randomToken(12),
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	s.mu.Lock()
	g.issued = keys
	s.mu.Unlock()
	writeToken(w, resp)
}

// checkPKCE verifies an RFC 7636 code_verifier; it returns "" when fine.
func checkPKCE(challenge, method, verifier string) string {
	if challenge == "" {
		if verifier != "" {
			return "code_verifier sent, but the authorization request had no code_challenge"
		}
		return ""
	}
	if verifier == "" {
		return "code_verifier is required: the authorization request had a code_challenge"
	}
	if !pkceValue.MatchString(verifier) {
		return "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]"
	}
	want := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) != 1 {
		return "code_verifier does not match the code_challenge"
	}
	return ""
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, c Client) {
	rt := r.PostForm.Get("refresh_token")
	now := s.opts.Now()
	s.mu.Lock()
	g, ok := s.state.refresh[tokenKey(rt)]
	switch {
	case !ok || rt == "":
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
		return
	case g.clientID != c.ID:
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client")
		return
	case g.rotatedOut:
		if s.opts.RevokeFamilyOnReuse {
			for _, o := range s.state.refresh {
				if o.family == g.family {
					o.revoked = true
				}
			}
		}
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was already rotated out")
		return
	case g.revoked:
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was revoked")
		return
	case now.After(g.expires):
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token expired")
		return
	}
	rotate := s.opts.RotateRefreshTokens
	if rotate {
		g.rotatedOut = true
	}
	s.mu.Unlock()

	scopes := g.scopes
	if req := splitScope(r.PostForm.Get("scope")); len(req) > 0 {
		for _, sc := range req {
			if !slices.Contains(g.scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "scope "+sc+" was not granted originally")
				return
			}
		}
		scopes = req
	}
	resp, _, err := s.issue(issueRequest{
		jkt:    requestJKT(r),
		client: c, user: g.user, scopes: scopes, sid: g.sid, nonce: g.nonce, authTime: g.authTime,
		refresh: rotate, idToken: s.opts.RefreshReturnsIDToken && slices.Contains(scopes, "openid"),
		family: g.family, refreshScopes: g.scopes,
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeToken(w, resp)
}

type issueRequest struct {
	jkt           string // the DPoP proof key's thumbprint: bind the access token to it
	client        Client
	user          User
	scopes        []string
	sid, nonce    string
	authTime      time.Time
	refresh       bool
	idToken       bool
	family        string
	refreshScopes []string // scopes of a rotated refresh token; default scopes
}

// issue creates the access token (and optionally refresh and ID tokens),
// records them and returns the token response and the stored token keys.
func (s *Server) issue(in issueRequest) (map[string]any, []string, error) {
	now := s.opts.Now()
	exp := now.Add(s.opts.AccessTokenTTL)
	var at string
	if s.opts.OpaqueAccessTokens {
		at = randomToken(32)
	} else {
		claims := userClaims(in.user, in.scopes)
		claims["iss"], claims["aud"], claims["client_id"] = s.issuer, in.client.ID, in.client.ID
		claims["iat"], claims["exp"], claims["jti"] = now.Unix(), exp.Unix(), randomToken(12)
		claims["scope"] = strings.Join(in.scopes, " ")
		if in.sid != "" {
			claims["sid"] = in.sid
		}
		if in.jkt != "" {
			claims["cnf"] = map[string]any{"jkt": in.jkt}
		}
		var err error
		if at, err = s.sign(claims, &mintConfig{}, "at+jwt"); err != nil {
			return nil, nil, err
		}
	}
	resp := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int64(s.opts.AccessTokenTTL / time.Second),
		"scope":        strings.Join(in.scopes, " "),
	}
	if in.jkt != "" {
		resp["token_type"] = "DPoP"
	}
	if s.opts.ExpiresInAsString {
		resp["expires_in"] = strconv.FormatInt(int64(s.opts.AccessTokenTTL/time.Second), 10)
	}
	base := grant{clientID: in.client.ID, user: in.user, scopes: in.scopes, sid: in.sid,
		issuedAt: now, nonce: in.nonce, authTime: in.authTime, family: in.family}
	keys := []string{tokenKey(at)}
	accessGrant := base
	accessGrant.expires = exp
	accessGrant.jkt = in.jkt

	var rt string
	refreshGrant := base
	if in.refresh {
		rt = randomToken(32)
		resp["refresh_token"] = rt
		refreshGrant.expires = now.Add(s.opts.RefreshTokenTTL)
		if in.refreshScopes != nil {
			refreshGrant.scopes = in.refreshScopes
		}
		keys = append(keys, tokenKey(rt))
	}
	if in.idToken {
		idt, err := s.idToken(in, at, now)
		if err != nil {
			return nil, nil, err
		}
		resp["id_token"] = idt
	}
	s.mu.Lock()
	s.prune(now)
	s.state.access[keys[0]] = &accessGrant
	if rt != "" {
		s.state.refresh[keys[1]] = &refreshGrant
	}
	s.mu.Unlock()
	return resp, keys, nil
}

func (s *Server) idToken(in issueRequest, accessToken string, now time.Time) (string, error) {
	claims := userClaims(in.user, in.scopes)
	claims["iss"], claims["aud"], claims["azp"] = s.issuer, in.client.ID, in.client.ID
	claims["iat"], claims["exp"] = now.Unix(), now.Add(s.opts.IDTokenTTL).Unix()
	claims["auth_time"], claims["jti"] = in.authTime.Unix(), randomToken(12)
	if in.nonce != "" {
		claims["nonce"] = in.nonce
	}
	if in.sid != "" {
		claims["sid"] = in.sid
	}
	key, err := s.keys.currentKey()
	if err != nil {
		return "", err
	}
	if h := atHash(key.alg, accessToken); h != "" {
		claims["at_hash"] = h
	}
	return s.sign(claims, &mintConfig{}, "JWT")
}

// writeToken writes a successful token response (RFC 6749 §5.1).
func writeToken(w http.ResponseWriter, resp map[string]any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// atHash is the OIDC at_hash: the left half of the access token's hash with
// the hash function of the ID token's algorithm, base64url-encoded.
func atHash(alg, accessToken string) string {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New()
	default:
		return ""
	}
	h.Write([]byte(accessToken))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
