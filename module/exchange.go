package edgeauth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
)

// The kinds of security token service.
const (
	stsAlibaba       = "alibaba"
	stsAWS           = "aws"
	stsTokenExchange = "token_exchange"
)

// STSConfig configures one security token service at which callers' OIDC
// tokens are exchanged for temporary credentials.
type STSConfig struct {
	// Type is alibaba (AssumeRoleWithOIDC, the default), aws
	// (AssumeRoleWithWebIdentity) or token_exchange (RFC 8693).
	Type string `json:"type,omitempty"`

	// Endpoint is the STS URL. Default for alibaba: from Region, else
	// https://sts.aliyuncs.com; for aws: from Region, else
	// https://sts.amazonaws.com. http is accepted for loopback hosts only.
	Endpoint string `json:"endpoint,omitempty"`
	// Region picks the regional endpoint (sts.<region>.aliyuncs.com).
	Region string `json:"region,omitempty"`
	// VPC picks the VPC endpoint of the region (sts-vpc.<region>.aliyuncs.com).
	VPC bool `json:"vpc,omitempty"`

	// OIDCProviderARN is the RAM OIDC identity provider
	// (acs:ram::<uid>:oidc-provider/<name>); alibaba only, required there.
	OIDCProviderARN string `json:"oidc_provider_arn,omitempty"`
	// RoleARN is the default role to assume.
	RoleARN string `json:"role_arn,omitempty"`
	// Duration is the credentials' lifetime: 900s up to the role's maximum
	// session duration. Default: 1h.
	Duration caddy.Duration `json:"duration,omitempty"`
	// Policy is an optional session policy (JSON, at most 2048 characters)
	// that narrows the role's permissions.
	Policy string `json:"policy,omitempty"`
	// Timeout bounds one exchange, retries included; then 503. Default: 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// RefreshMargin: cached credentials are renewed this long before they
	// expire. Default: 3m.
	RefreshMargin caddy.Duration `json:"refresh_margin,omitempty"`
	// MaxEntries caps the credential cache. Default: 10000.
	MaxEntries int `json:"max_entries,omitempty"`
	// TLSCA is a PEM file of extra CA certificates trusted for the STS and
	// token endpoints.
	TLSCA string `json:"tls_ca,omitempty"`

	// TokenFile is the gateway's own OIDC token (workload identity), re-read
	// on every exchange, for routes with `source workload`.
	TokenFile string `json:"token_file,omitempty"`
	// ClientCredentials gets the gateway's own token with the OAuth
	// client-credentials grant, for routes with `source workload`.
	ClientCredentials *ClientCredentialsConfig `json:"client_credentials,omitempty"`

	// TokenEndpoint is the RFC 8693 token endpoint (token_exchange only).
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// ClientID authenticates the gateway at the token endpoint (token_exchange).
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret authenticates the gateway at the token endpoint (token_exchange).
	ClientSecret string `json:"client_secret,omitempty"`
	// AuthMethod is client_secret_basic (default) or client_secret_post (token_exchange).
	AuthMethod string `json:"auth_method,omitempty"`
	// Audience values to ask for (token_exchange).
	Audience []string `json:"audience,omitempty"`
	// Resource URIs to ask for (token_exchange).
	Resource []string `json:"resource,omitempty"`
	// Scope to ask for (token_exchange).
	Scope string `json:"scope,omitempty"`
	// SubjectTokenType of the caller's token (token_exchange). Default:
	// urn:ietf:params:oauth:token-type:id_token.
	SubjectTokenType string `json:"subject_token_type,omitempty"`
}

// ClientCredentialsConfig gets a token for the gateway itself.
type ClientCredentialsConfig struct {
	// TokenEndpoint is the OAuth token endpoint.
	TokenEndpoint string `json:"token_endpoint"`
	// ClientID is the gateway's client ID.
	ClientID string `json:"client_id"`
	// ClientSecret is the gateway's client secret; use a placeholder.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes to ask for.
	Scopes []string `json:"scopes,omitempty"`
	// AuthMethod is client_secret_basic (default) or client_secret_post.
	AuthMethod string `json:"auth_method,omitempty"`
}

// exchangeService is one configured STS at run time.
type exchangeService struct {
	name        string
	kind        string
	exchanger   sts.Exchanger
	cache       *sts.Cache
	workload    sts.TokenSource // nil: no workload identity configured
	providerARN string
	roleARN     string
	duration    time.Duration
	policy      string
	// config fingerprints the settings that shape an exchange, for the
	// credential cache key (a fleet's instances share credentials through
	// Redis only while their STS settings agree).
	config string
}

// provisionSTS builds every configured STS.
func (a *App) provisionSTS() error {
	a.exchanges = make(map[string]*exchangeService, len(a.STS))
	for name, cfg := range a.STS {
		if err := validateName(name); err != nil {
			return fmt.Errorf("edgeauth: sts %q: %v", name, err)
		}
		if cfg == nil {
			return fmt.Errorf("edgeauth: sts %s: empty configuration", name)
		}
		var shared sts.SharedStore
		if a.sessions != nil {
			shared = a.sessions.sharedSTS
		}
		svc, err := cfg.build(name, shared)
		if err != nil {
			return fmt.Errorf("edgeauth: sts %s: %w", name, err)
		}
		a.exchanges[name] = svc
	}
	return nil
}

// build checks the settings and creates the exchanger, cache and token
// source; shared, when set, shares credentials with other instances.
func (c *STSConfig) build(name string, shared sts.SharedStore) (*exchangeService, error) {
	repl := caddy.NewReplacer()
	str := func(s string) string { return repl.ReplaceKnown(s, "") }

	timeout := time.Duration(c.Timeout)
	switch {
	case timeout < 0 || timeout > time.Minute:
		return nil, fmt.Errorf("timeout: %s is out of range; use a value up to 1m", timeout)
	case timeout == 0:
		timeout = sts.DefaultTimeout
	}
	duration := time.Duration(c.Duration)
	if duration == 0 {
		duration = sts.DefaultDuration
	}
	if err := sts.ValidateDuration(duration); err != nil {
		return nil, err // it names the duration
	}
	if c.Policy != "" {
		if err := sts.ValidatePolicy(c.Policy); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}
	if c.RefreshMargin < 0 || time.Duration(c.RefreshMargin) >= duration {
		return nil, fmt.Errorf("refresh_margin: must be at least 0 and shorter than the duration (%s)", duration)
	}
	if c.MaxEntries < 0 {
		return nil, fmt.Errorf("max_entries: must not be negative")
	}
	client, err := oidc.NewCAClient(str(c.TLSCA), timeout)
	if err != nil {
		return nil, err
	}

	svc := &exchangeService{
		name:        name,
		kind:        c.Type,
		providerARN: str(c.OIDCProviderARN),
		roleARN:     str(c.RoleARN),
		duration:    duration,
		policy:      c.Policy,
	}
	if svc.kind == "" {
		svc.kind = stsAlibaba
	}
	switch svc.kind {
	case stsAlibaba:
		if err := sts.ValidateProviderARN(svc.providerARN); err != nil {
			return nil, fmt.Errorf("oidc_provider_arn: %w", err)
		}
		svc.exchanger, err = sts.NewAlibaba(sts.AlibabaConfig{Endpoint: str(c.Endpoint), Region: c.Region, VPC: c.VPC, Transport: sts.Transport{HTTPClient: client, Timeout: timeout}})
	case stsAWS:
		svc.exchanger, err = sts.NewAWS(sts.AWSConfig{Endpoint: str(c.Endpoint), Region: c.Region, Transport: sts.Transport{HTTPClient: client, Timeout: timeout}})
	case stsTokenExchange:
		subjectType := c.SubjectTokenType
		if subjectType == "" {
			subjectType = sts.TokenTypeIDToken
		}
		svc.exchanger, err = sts.NewTokenExchange(sts.TokenExchangeConfig{
			TokenEndpoint:    str(c.TokenEndpoint),
			ClientID:         str(c.ClientID),
			ClientSecret:     str(c.ClientSecret),
			AuthMethod:       c.AuthMethod,
			SubjectTokenType: subjectType,
			Audience:         c.Audience,
			Resource:         c.Resource,
			Scope:            c.Scope,
			Transport:        sts.Transport{HTTPClient: client, Timeout: timeout},
		})
	default:
		return nil, fmt.Errorf("type %q: use alibaba, aws or token_exchange", c.Type)
	}
	if err != nil {
		return nil, err
	}
	if svc.roleARN != "" {
		if err := svc.exchanger.ValidateRole(svc.roleARN); err != nil {
			return nil, err // it names role_arn
		}
	}

	switch {
	case c.TokenFile != "" && c.ClientCredentials != nil:
		return nil, fmt.Errorf("token_file and client_credentials: choose one source of the gateway's own token")
	case c.TokenFile != "":
		svc.workload = sts.NewFileTokenSource(str(c.TokenFile))
	case c.ClientCredentials != nil:
		cc := c.ClientCredentials
		svc.workload, err = sts.NewClientCredentialsSource(sts.ClientCredentialsConfig{
			TokenEndpoint: str(cc.TokenEndpoint),
			ClientID:      str(cc.ClientID),
			ClientSecret:  str(cc.ClientSecret),
			Scopes:        cc.Scopes,
			AuthMethod:    cc.AuthMethod,
			HTTPClient:    client,
			Timeout:       timeout,
		})
		if err != nil {
			return nil, fmt.Errorf("client_credentials: %w", err)
		}
	}

	svc.config = c.fingerprint(svc.kind, duration)
	svc.cache = sts.NewCache(sts.CacheConfig{
		MaxEntries:    c.MaxEntries,
		RefreshMargin: time.Duration(c.RefreshMargin),
		FetchTimeout:  timeout + 5*time.Second,
		Shared:        shared,
	})
	return svc, nil
}

// fingerprint hashes the settings that shape an exchange's result, other
// than those the cache key names on its own (role, OIDC provider ARN,
// policy): type, endpoint, duration, the token_exchange parameters and the
// workload token's source. Secrets are left out: they authenticate the
// gateway and do not change whose credentials come back.
func (c *STSConfig) fingerprint(kind string, duration time.Duration) string {
	var cc []string
	if c.ClientCredentials != nil {
		cc = []string{c.ClientCredentials.TokenEndpoint, c.ClientCredentials.ClientID, sts.Key(c.ClientCredentials.Scopes...)}
	}
	return sts.Key(kind, c.Endpoint, c.Region, fmt.Sprint(c.VPC), duration.String(),
		c.TokenEndpoint, c.ClientID, c.AuthMethod, sts.Key(c.Audience...), sts.Key(c.Resource...), c.Scope, c.SubjectTokenType,
		c.TokenFile, sts.Key(cc...))
}

// STSUse is a route's use of a configured STS.
type STSUse struct {
	// Name is the STS (from the edgeauth global option).
	Name string `json:"name"`
	// RoleARN overrides the STS's default role for this route.
	RoleARN string `json:"role_arn,omitempty"`
	// RoleSessionName is a template over placeholders, e.g.
	// {http.auth.user.upn}; sanitized to 2-64 characters of
	// [A-Za-z0-9.@_-]. Default: the caller's subject.
	RoleSessionName string `json:"role_session_name,omitempty"`
	// RoleFromClaims picks the role from the caller's claims: the first
	// rule whose claim equals its value wins; when rules are given and none
	// matches, the request is refused with 403.
	RoleFromClaims []RoleFromClaim `json:"role_from_claims,omitempty"`
	// Source is whose token is exchanged: caller (the bearer token or the
	// session's ID token; the default) or workload (the gateway's own, from
	// the STS's token_file or client_credentials: one set of credentials for
	// every request of the route).
	Source string `json:"source,omitempty"`
	// Headers renames the credential headers.
	Headers *STSHeaders `json:"headers,omitempty"`
}

// RoleFromClaim maps a claim value to a role.
type RoleFromClaim struct {
	// Claim is a claim name or dotted path.
	Claim string `json:"claim"`
	// Value is what the claim must equal (or, for an array, contain).
	Value string `json:"value"`
	// RoleARN is the role assumed on a match.
	RoleARN string `json:"role_arn"`
}

// STSHeaders names the headers that carry the credentials upstream.
type STSHeaders struct {
	AccessKeyID     string `json:"access_key_id,omitempty"`
	AccessKeySecret string `json:"access_key_secret,omitempty"`
	SecurityToken   string `json:"security_token,omitempty"`
	Expiration      string `json:"expiration,omitempty"`
}

// stsHeaderNames returns the credential header names with defaults.
func (u *STSUse) stsHeaderNames() STSHeaders {
	n := STSHeaders{
		AccessKeyID:     "X-Sts-Access-Key-Id",
		AccessKeySecret: "X-Sts-Access-Key-Secret",
		SecurityToken:   "X-Sts-Security-Token",
		Expiration:      "X-Sts-Expiration",
	}
	if h := u.Headers; h != nil {
		set := func(dst *string, v string) {
			if v != "" {
				*dst = http.CanonicalHeaderKey(v)
			}
		}
		set(&n.AccessKeyID, h.AccessKeyID)
		set(&n.AccessKeySecret, h.AccessKeySecret)
		set(&n.SecurityToken, h.SecurityToken)
		set(&n.Expiration, h.Expiration)
	}
	return n
}

// adminSTSCaches lists the STS credential caches for admin.api.edgeauth.
func (a *App) adminSTSCaches() map[string]adminCache {
	out := make(map[string]adminCache, len(a.exchanges))
	for name, svc := range a.exchanges {
		out[name] = svc.cache
	}
	return out
}
