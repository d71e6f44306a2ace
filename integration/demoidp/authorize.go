package demoidp

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// authRequestTTL bounds the time between /authorize and the consent.
const authRequestTTL = 10 * time.Minute

// codeTTL is the lifetime of an authorization code.
const codeTTL = 2 * time.Minute

// pkceValue matches RFC 7636 code verifiers and challenges.
var pkceValue = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodPost) {
		return
	}
	if !parseForm(w, r) {
		return
	}
	p := map[string]string{}
	for _, name := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
		"code_challenge", "code_challenge_method", "access_type", "login_hint", "prompt"} {
		v, ok := single(r.Form, name)
		if !ok {
			s.errorPage(w, http.StatusBadRequest, "Invalid request", "The parameter "+name+" appears more than once.")
			return
		}
		p[name] = v
	}
	// Errors about the client or redirect URI must not redirect (RFC 6749 §4.1.2.1).
	c, ok := s.client(p["client_id"])
	if !ok {
		s.errorPage(w, http.StatusBadRequest, "Unknown client", "client_id is missing or not registered with this provider.")
		return
	}
	redirectURI := p["redirect_uri"]
	if !redirectAllowed(c, c.RedirectURIs, redirectURI) {
		s.errorPage(w, http.StatusBadRequest, "Invalid redirect_uri",
			"redirect_uri is missing or does not exactly match one registered for client "+c.ID+".")
		return
	}
	fail := func(code, desc string) {
		http.Redirect(w, r, withParams(redirectURI, map[string]string{
			"error": code, "error_description": desc, "state": p["state"], "iss": s.issuer,
		}), http.StatusFound)
	}
	if p["response_type"] != "code" {
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	scopes := splitScope(p["scope"])
	if len(scopes) == 0 {
		scopes = c.Scopes
		if len(scopes) == 0 {
			scopes = s.supportedScopes()
		}
	}
	supported := s.supportedScopes()
	for _, sc := range scopes {
		if !slices.Contains(supported, sc) || (len(c.Scopes) > 0 && !slices.Contains(c.Scopes, sc)) {
			fail("invalid_scope", "scope "+sc+" is not available to this client")
			return
		}
	}
	offline := false
	switch p["access_type"] {
	case "", "online":
	case "offline":
		offline = true
	default:
		fail("invalid_request", "access_type must be online or offline")
		return
	}
	method := p["code_challenge_method"]
	switch {
	case p["code_challenge"] == "" && method != "":
		fail("invalid_request", "code_challenge_method without code_challenge")
		return
	case p["code_challenge"] == "" && (c.Secret == "" || s.opts.RequirePKCE):
		fail("invalid_request", "PKCE is required: send code_challenge and code_challenge_method=S256")
		return
	case p["code_challenge"] != "" && !pkceValue.MatchString(p["code_challenge"]):
		fail("invalid_request", "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]")
		return
	case p["code_challenge"] != "" && method == "":
		method = "plain" // RFC 7636 §4.3
	}
	if method != "" && method != "S256" && method != "plain" {
		fail("invalid_request", "code_challenge_method must be S256 or plain")
		return
	}
	req := &authRequest{
		client: c, redirectURI: redirectURI, scopes: scopes, state: p["state"], nonce: p["nonce"],
		challenge: p["code_challenge"], method: method, offline: offline, loginHint: p["login_hint"],
		expires: s.opts.Now().Add(authRequestTTL),
	}
	hinted, hintOK := s.user(p["login_hint"])
	if s.autoApprove.Load() && hintOK && p["prompt"] != "login" && p["prompt"] != "consent" {
		req.user = &hinted
		http.Redirect(w, r, s.approve(req), http.StatusFound)
		return
	}
	if p["prompt"] == "none" {
		fail("login_required", "prompt=none needs AutoApprove and a login_hint naming a known user")
		return
	}
	id := randomToken(24)
	s.mu.Lock()
	s.prune(s.opts.Now())
	s.state.requests[id] = req
	s.mu.Unlock()
	s.loginPage(w, http.StatusOK, id, req, "")
}

// pendingRequest finds an unexpired authorization request by its form id.
func (s *Server) pendingRequest(w http.ResponseWriter, r *http.Request) (string, *authRequest, bool) {
	if !allowMethods(w, r, http.MethodPost) || !parseForm(w, r) {
		return "", nil, false
	}
	id := r.PostForm.Get("req")
	s.mu.Lock()
	stored, ok := s.state.requests[id]
	var req authRequest
	if ok {
		req = *stored // a snapshot: the stored request may change under s.mu
	}
	s.mu.Unlock()
	if !ok || s.opts.Now().After(req.expires) {
		s.errorPage(w, http.StatusBadRequest, "Login expired",
			"This sign-in request is unknown, already finished or expired. Go back to the application and sign in again.")
		return "", nil, false
	}
	return id, &req, true
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	id, req, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	u, known := s.user(r.PostForm.Get("username"))
	pw := r.PostForm.Get("password")
	if !known || subtle.ConstantTimeCompare([]byte(pw), []byte(u.Password)) != 1 {
		s.loginPage(w, http.StatusOK, id, req, "Wrong username or password.")
		return
	}
	req.user = &u
	s.mu.Lock()
	if stored := s.state.requests[id]; stored != nil {
		stored.user = &u
	}
	s.mu.Unlock()
	if s.autoApprove.Load() {
		if !s.finish(w, id) {
			return
		}
		http.Redirect(w, r, s.approve(req), http.StatusSeeOther)
		return
	}
	s.consentPage(w, id, req)
}

func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	id, req, ok := s.pendingRequest(w, r)
	if !ok {
		return
	}
	if req.user == nil {
		s.errorPage(w, http.StatusBadRequest, "Not signed in", "Sign in before giving consent.")
		return
	}
	switch r.PostForm.Get("action") {
	case "allow":
		if !s.finish(w, id) {
			return
		}
		http.Redirect(w, r, s.approve(req), http.StatusSeeOther)
	case "deny":
		if !s.finish(w, id) {
			return
		}
		http.Redirect(w, r, withParams(req.redirectURI, map[string]string{
			"error": "access_denied", "error_description": "the user denied the request",
			"state": req.state, "iss": s.issuer,
		}), http.StatusSeeOther)
	default:
		s.errorPage(w, http.StatusBadRequest, "Invalid consent", "action must be allow or deny.")
	}
}

// finish forgets a pending request so that it cannot be approved twice; it
// reports false (after writing an error page) if another request finished it first.
func (s *Server) finish(w http.ResponseWriter, id string) bool {
	s.mu.Lock()
	_, ok := s.state.requests[id]
	delete(s.state.requests, id)
	s.mu.Unlock()
	if !ok {
		s.errorPage(w, http.StatusBadRequest, "Login already finished", "This sign-in request was already completed.")
	}
	return ok
}

// approve issues a code for req (whose user is set) and returns the success
// redirect with code, state and iss (RFC 9207).
func (s *Server) approve(req *authRequest) string {
	now := s.opts.Now()
	code := randomToken(32)
	g := &codeGrant{
		clientID: req.client.ID, redirectURI: req.redirectURI, user: *req.user,
		scopes: grantable(*req.user, req.scopes), nonce: req.nonce,
		challenge: req.challenge, method: req.method,
		offline: req.offline || s.opts.AlwaysIssueRefreshTokens,
		sid:     randomToken(16), authTime: now, expires: now.Add(codeTTL),
	}
	s.mu.Lock()
	s.prune(now)
	s.state.codes[tokenKey(code)] = g
	s.mu.Unlock()
	return withParams(req.redirectURI, map[string]string{"code": code, "state": req.state, "iss": s.issuer})
}
