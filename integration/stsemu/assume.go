package stsemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Parameter rules (docs/PROTOCOL.md §2.3).
var (
	roleArnRe     = regexp.MustCompile(`^acs:ram::([0-9]+):role/(.+)$`)
	providerArnRe = regexp.MustCompile(`^acs:ram::([0-9]+):oidc-provider/(.+)$`)
	sessionNameRe = regexp.MustCompile(`^[A-Za-z0-9.@_-]{2,64}$`)
)

const (
	minDurationSeconds = 900
	maxPolicyLen       = 2048
	minTokenLen        = 4
	maxTokenLen        = 20000
	// timestampSkew is how far Timestamp may be from the server clock. The
	// 15 minutes are Alibaba's usual RPC rule (UNCONFIRMED for anonymous STS).
	timestampSkew = 15 * time.Minute
)

// successBody is the AssumeRoleWithOIDC answer, field for field §2.4.
type successBody struct {
	RequestID       string `json:"RequestId"`
	AssumedRoleUser struct {
		Arn           string `json:"Arn"`
		AssumedRoleID string `json:"AssumedRoleId"`
	} `json:"AssumedRoleUser"`
	Credentials struct {
		AccessKeyID     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
		SecurityToken   string `json:"SecurityToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
	OIDCTokenInfo struct {
		Subject          string `json:"Subject"`
		Issuer           string `json:"Issuer"`
		ClientIDs        string `json:"ClientIds"`
		IssuanceTime     string `json:"IssuanceTime"`
		ExpirationTime   string `json:"ExpirationTime"`
		VerificationInfo string `json:"VerificationInfo"`
	} `json:"OIDCTokenInfo"`
	SourceIdentity string `json:"SourceIdentity,omitempty"`
}

// serveSTS is the RPC endpoint at "/". It accepts credentials-go's style
// (Action & co. in the query, business parameters in the form body), the
// all-in-query style, and the generated SDK's ACS3 style (x-acs-action and
// x-acs-version headers).
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		methodNotAllowed(w, "GET, POST")
		return
	}
	if !s.wait(r) {
		s.count("Hang")
		return
	}
	if e := s.injectedFault(w); e != nil {
		s.count(e.Code)
		s.writeError(w, r, e)
		return
	}
	body, e := s.assume(r)
	if e != nil {
		s.count(e.Code)
		s.writeError(w, r, e)
		return
	}
	s.count(OutcomeSuccess)
	writeJSON(w, http.StatusOK, body)
}

// wait applies SetHang. It reports false when the wait was cut short.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	d := s.hang
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

// injectedFault consumes one SetThrottle or SetFail5xx count.
func (s *Server) injectedFault(w http.ResponseWriter) *APIError {
	s.mu.Lock()
	defer s.mu.Unlock()
	var e *APIError
	switch {
	case s.throttle > 0:
		s.throttle--
		e = apiErr(http.StatusBadRequest, "Throttling.User", "Request was denied due to user flow control.")
	case s.fail5xx > 0:
		s.fail5xx--
		e = apiErr(http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
	default:
		return nil
	}
	if s.opts.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((s.opts.RetryAfter+time.Second-1)/time.Second)))
	}
	return e
}

// assume validates the call and issues credentials.
func (s *Server) assume(r *http.Request) (*successBody, *APIError) {
	r.Body = http.MaxBytesReader(nil, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter", "The request body cannot be parsed: %v.", err)
	}
	p := r.Form
	action := firstOf(p.Get("Action"), r.Header.Get("x-acs-action"))
	if action != "AssumeRoleWithOIDC" {
		// UNCONFIRMED code/status: the usual Alibaba gateway answer.
		return nil, apiErr(http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}
	if v := firstOf(p.Get("Version"), r.Header.Get("x-acs-version")); v != "2015-04-01" {
		// UNCONFIRMED code.
		return nil, apiErr(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid.")
	}
	if e := s.checkTimestamp(firstOf(p.Get("Timestamp"), r.Header.Get("x-acs-date"))); e != nil {
		return nil, e
	}
	for _, name := range []string{"RoleArn", "OIDCProviderArn", "OIDCToken", "RoleSessionName"} {
		if _, ok := p[name]; !ok {
			return nil, apiErr(http.StatusBadRequest, "MissingParameter."+name, "%s is mandatory for this action.", name)
		}
	}
	roleArn, providerArn, token, session := p.Get("RoleArn"), p.Get("OIDCProviderArn"), p.Get("OIDCToken"), p.Get("RoleSessionName")
	rm := roleArnRe.FindStringSubmatch(roleArn)
	if rm == nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
	}
	pm := providerArnRe.FindStringSubmatch(providerArn)
	if pm == nil {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.OIDCProviderArn", "The parameter OIDCProviderArn is wrongly formed.")
	}
	if !sessionNameRe.MatchString(session) {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.RoleSessionName",
			"The parameter RoleSessionName must be 2 to 64 characters of letters, digits, '.', '@', '_' and '-'.")
	}
	duration := 3600
	if v, ok := p["DurationSeconds"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < minDurationSeconds {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter.DurationSeconds",
				"The parameter DurationSeconds must be an integer of at least %d.", minDurationSeconds)
		}
		duration = n
	}
	policy := p.Get("Policy")
	if _, ok := p["Policy"]; ok {
		if n := utf8.RuneCountInString(policy); n < 1 || n > maxPolicyLen {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter.PolicySize", "The size of Policy must be 1 to %d characters.", maxPolicyLen)
		}
		var doc map[string]any
		if json.Unmarshal([]byte(policy), &doc) != nil {
			return nil, apiErr(http.StatusBadRequest, "InvalidParameter.PolicyGrammar", "The policy has a syntax error.")
		}
	}
	if e := precheckToken(token); e != nil {
		return nil, e
	}

	s.mu.Lock()
	var prov *Provider
	if pm[1] == s.opts.AccountID {
		if p, ok := s.providers[pm[2]]; ok {
			c := cloneProvider(*p)
			prov = &c
		}
	}
	var role *Role
	if rm[1] == s.opts.AccountID {
		if r, ok := s.roles[rm[2]]; ok {
			c := *r
			role = &c
		}
	}
	s.mu.Unlock()
	if prov == nil {
		return nil, apiErr(http.StatusUnauthorized, "AuthenticationFail.NoPermission", "No such OIDC Provider registered.")
	}
	if role == nil {
		return nil, apiErr(http.StatusNotFound, "EntityNotExist.Role", "The role not exists: %s.", roleArn)
	}
	if time.Duration(duration)*time.Second > role.MaxSessionDuration {
		return nil, apiErr(http.StatusBadRequest, "InvalidParameter.DurationSeconds",
			"The DurationSeconds must not exceed the role's MaxSessionDuration (%d).", int(role.MaxSessionDuration/time.Second))
	}

	info, e := s.verifyToken(r.Context(), token, prov)
	if e != nil {
		return nil, e
	}
	if !role.Trust.allows(trustContext{providerARN: providerArn, iss: info.iss, sub: info.sub, aud: info.aud}) {
		return nil, apiErr(http.StatusUnauthorized, "AuthenticationFail.NoPermission", "There is no permission.")
	}
	return s.issue(role, providerArn, session, duration, policy, info), nil
}

func (s *Server) checkTimestamp(ts string) *APIError {
	if ts == "" {
		return nil // credentials-go always sends it; the service does not insist (no signature).
	}
	t, err := time.Parse(timeLayout, ts)
	if err != nil {
		// UNCONFIRMED code: the usual Alibaba RPC one.
		return apiErr(http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if d := s.now().Sub(t); d > timestampSkew || d < -timestampSkew {
		return apiErr(http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}
	return nil
}

// issue makes and records credentials.
func (s *Server) issue(role *Role, providerArn, session string, duration int, policy string, info *tokenInfo) *successBody {
	now := s.now().UTC().Truncate(time.Second)
	ttl := time.Duration(duration) * time.Second
	if s.opts.CredentialTTL > 0 {
		ttl = s.opts.CredentialTTL
	}
	exp := now.Add(ttl)
	var b successBody
	b.RequestID = newRequestID()
	b.AssumedRoleUser.Arn = role.Arn + "/" + session
	b.AssumedRoleUser.AssumedRoleID = role.RoleID + ":" + session
	b.Credentials.AccessKeyID = "STS." + randomString(25, alnum)
	b.Credentials.AccessKeySecret = randomString(44, alnum)
	b.Credentials.SecurityToken = "CAIS" + randomToken(300)
	b.Credentials.Expiration = exp.Format(timeLayout)
	b.OIDCTokenInfo.Subject = info.sub
	b.OIDCTokenInfo.Issuer = info.iss
	b.OIDCTokenInfo.ClientIDs = strings.Join(info.aud, ",")
	b.OIDCTokenInfo.IssuanceTime = info.iat.UTC().Format(timeLayout)
	b.OIDCTokenInfo.ExpirationTime = info.exp.UTC().Format(timeLayout)
	b.OIDCTokenInfo.VerificationInfo = "Success"
	b.SourceIdentity = info.sourceIdentity

	s.mu.Lock()
	s.issued = append(s.issued, Issued{
		RequestID: b.RequestID, RoleArn: role.Arn, ProviderArn: providerArn, SessionName: session,
		Subject: info.sub, Issuer: info.iss, Audience: info.aud, Policy: policy, DurationSeconds: duration,
		AccessKeyID: b.Credentials.AccessKeyID, AccessKeySecret: b.Credentials.AccessKeySecret,
		SecurityToken: b.Credentials.SecurityToken, Expiration: exp,
	})
	s.mu.Unlock()
	return &b
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
