package edgeauth

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// Limits from Alibaba Cloud RAM's rules for OIDC identity providers, which
// edgeauth applies to every provider so that a configuration that works here
// can be registered there.
const (
	maxAudiences   = 50
	minMaxTokenAge = time.Hour
	maxMaxTokenAge = 168 * time.Hour
	maxClockSkew   = 5 * time.Minute
	defaultSkew    = 30 * time.Second
)

// ProviderConfig configures one OpenID provider.
type ProviderConfig struct {
	// Issuer is the provider's issuer URL. Discovery is fetched from
	// <issuer>/.well-known/openid-configuration and a token's `iss` must equal
	// it exactly. It must be https (http is accepted for loopback hosts only).
	Issuer string `json:"issuer,omitempty"`

	// ClientID is the OAuth client (application) ID registered at the
	// provider. It is the default accepted audience.
	ClientID string `json:"client_id,omitempty"`

	// ClientSecret is the OAuth client secret, for the login flow. Use a
	// placeholder such as {env.CLIENT_SECRET} rather than the secret itself.
	ClientSecret string `json:"client_secret,omitempty"`

	// Scopes are requested at login. Default: openid.
	Scopes []string `json:"scopes,omitempty"`

	// Audiences are the accepted `aud` values of bearer tokens (at most 50).
	// Default: the client ID.
	Audiences []string `json:"audiences,omitempty"`

	// Algorithms is the allow-list of signing algorithms (RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512, EdDSA). Default: RS256.
	// `none` and the HS* family are refused.
	Algorithms []string `json:"algorithms,omitempty"`

	// TokenTypes is the allow-list of JWS `typ` header values accepted on
	// bearer tokens; `absent` admits a token without typ. Values compare
	// case-insensitively, with or without "application/" (RFC 7515
	// §4.1.9). Default: JWT, at+jwt and absent. logout+jwt, secevent+jwt
	// and dpop+jwt are never accepted. ID tokens (typ JWT or absent) and
	// back-channel logout tokens (logout+jwt or absent) have fixed lists.
	TokenTypes []string `json:"token_types,omitempty"`

	// ClockSkew is the tolerance applied to exp, nbf, iat and max_token_age.
	// Default: 30s; at most 5m.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	// MaxTokenAge rejects tokens whose `iat` is older than this (RAM's
	// "earliest issuance time allowed"); between 1h and 168h when set.
	MaxTokenAge caddy.Duration `json:"max_token_age,omitempty"`

	// Thumbprints are SHA-1 fingerprints (hex) of a CA certificate that the
	// TLS chain presented by the JWKS host must contain; at most 5.
	Thumbprints []string `json:"thumbprints,omitempty"`

	// TLSCA is a PEM file of extra CA certificates trusted for this
	// provider's endpoints.
	TLSCA string `json:"tls_ca,omitempty"`

	// AuthorizationEndpoint overrides the discovered authorization endpoint.
	AuthorizationEndpoint string `json:"authorization_endpoint,omitempty"`
	// TokenEndpoint overrides the discovered token endpoint.
	TokenEndpoint string `json:"token_endpoint,omitempty"`
	// UserinfoEndpoint overrides the discovered userinfo endpoint.
	UserinfoEndpoint string `json:"userinfo_endpoint,omitempty"`
	// JWKSURI overrides the discovered JWKS URI.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// IntrospectionEndpoint overrides the discovered RFC 7662 endpoint.
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
	// EndSessionEndpoint overrides the discovered RP-initiated logout endpoint.
	EndSessionEndpoint string `json:"end_session_endpoint,omitempty"`
	// RevocationEndpoint overrides the discovered RFC 7009 endpoint, where
	// logout revokes the session's refresh token.
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`

	// JWKSRefresh is how often keys are refreshed when the JWKS response
	// gives no lifetime. Default: 1h.
	JWKSRefresh caddy.Duration `json:"jwks_refresh,omitempty"`

	// KidCooldown is the least time between two JWKS refetches caused by a
	// token with an unknown `kid`. Default: 30s.
	KidCooldown caddy.Duration `json:"kid_cooldown,omitempty"`

	// Preset fills in a known provider's settings: `aliyun` (Alibaba Cloud,
	// China site) or `aliyun_intl` (international site). It sets the issuer
	// when none is given, the userinfo endpoint that Alibaba's discovery
	// lacks (<issuer>/v1/userinfo) and the default scopes `openid aliuid
	// profile`. It does not turn on opaque bearer tokens: Alibaba's userinfo
	// answer names no client, so that is the operator's explicit choice
	// (OpaqueTokens).
	Preset string `json:"preset,omitempty"`

	// OpaqueTokens says how bearer tokens that are not JWTs are checked:
	// `introspection` (RFC 7662, authenticated with the client ID and
	// secret; the answer must be active and name this gateway's audience or
	// client) or `userinfo` (the userinfo endpoint answers for them; a
	// stated `aud`, `azp` or `client_id` must fit, but when the answer names
	// none, a token issued to any application of the provider passes, and
	// expiry and token type are not known). Default: not accepted. No preset
	// sets it.
	OpaqueTokens string `json:"opaque_tokens,omitempty"`

	// OpaqueRate bounds the provider calls for opaque tokens that are
	// neither cached nor recently refused, in calls per second, shared by
	// every route of this provider; past it (and past OpaqueBurst) such a
	// token is answered 503 with Retry-After. Default: 20; at most 10000.
	OpaqueRate float64 `json:"opaque_rate,omitempty"`

	// OpaqueBurst is how many such calls may be made at once before
	// OpaqueRate applies. Default: 40; at most 100000.
	OpaqueBurst int `json:"opaque_burst,omitempty"`

	// OpaqueCacheTTL is how long an opaque token's check is trusted before
	// the provider is asked again (never past the token's expiry when the
	// provider tells it). Default: 2m; at most 1h.
	OpaqueCacheTTL caddy.Duration `json:"opaque_cache_ttl,omitempty"`

	// DPoP says how this provider's DPoP-bound tokens (RFC 9449, `cnf.jkt`)
	// are taken: `allowed` (the default: a bound token needs a DPoP proof
	// on every request, an unbound one passes as a bearer token) or
	// `required` (a token without a binding the gateway checks is refused).
	DPoP string `json:"dpop,omitempty"`

	// DPoPAlgorithms are the JWS algorithms a DPoP proof may be signed with,
	// independent of Algorithms (the client picks its proof key). Default:
	// every asymmetric algorithm edgeauth supports.
	DPoPAlgorithms []string `json:"dpop_algorithms,omitempty"`

	// DPoPProofMaxAge is how long after its `iat` a proof is accepted (plus
	// ClockSkew). Default: 60s; at most 10m.
	DPoPProofMaxAge caddy.Duration `json:"dpop_proof_max_age,omitempty"`

	// DPoPNonce makes every proof carry a server nonce (RFC 9449 §8): a
	// proof without a current one is answered 401 use_dpop_nonce with a
	// DPoP-Nonce header. Nonces are derived from the first session secret
	// and the time, so every instance of a fleet that shares the secret
	// accepts them.
	DPoPNonce bool `json:"dpop_nonce,omitempty"`

	// DPoPNonceWindow is how long one nonce is handed out; a nonce is
	// accepted during its window and the next. Default: 5m.
	DPoPNonceWindow caddy.Duration `json:"dpop_nonce_window,omitempty"`
}

// presets are the known providers' settings.
var presets = map[string]string{
	"aliyun":      "https://oauth.aliyun.com",
	"aliyun_intl": "https://oauth.alibabacloud.com",
}

// checkPreset refuses a preset name that is not known.
func checkPreset(name string) error {
	if _, ok := presets[name]; !ok {
		return fmt.Errorf("preset %q is unknown; use aliyun or aliyun_intl", name)
	}
	return nil
}

// presetIssuerOverridden returns the preset's issuer when the operator also
// set an issuer that differs from it: almost always a mistake (the preset's
// userinfo endpoint and scopes then follow the other issuer), so it is
// logged as a warning.
func (pc ProviderConfig) presetIssuerOverridden() (string, bool) {
	want, ok := presets[pc.Preset]
	if !ok || pc.Issuer == "" || strings.TrimRight(pc.Issuer, "/") == strings.TrimRight(want, "/") {
		return "", false
	}
	return want, true
}

// withPreset returns the settings with the preset's values filled in where
// the operator left them empty.
func (pc ProviderConfig) withPreset() (ProviderConfig, error) {
	if pc.Preset == "" {
		return pc, nil
	}
	if err := checkPreset(pc.Preset); err != nil {
		return pc, err
	}
	issuer := presets[pc.Preset]
	if pc.Issuer == "" {
		pc.Issuer = issuer
	}
	if pc.UserinfoEndpoint == "" {
		pc.UserinfoEndpoint = strings.TrimRight(pc.Issuer, "/") + "/v1/userinfo"
	}
	if len(pc.Scopes) == 0 {
		pc.Scopes = []string{"openid", "aliuid", "profile"}
	}
	return pc, nil
}

// The opaque_tokens values (token.OpaqueMode) and the ranges of the
// opaque-token settings (their defaults are token.DefaultOpaque*).
const (
	opaqueUserinfo      = string(token.OpaqueUserinfo)
	opaqueIntrospection = string(token.OpaqueIntrospection)
	maxOpaqueTTL        = time.Hour
	maxOpaqueRate       = 10000.0
	maxOpaqueBurst      = 100000
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func validateName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// compile checks the provider's settings and turns them into the connection
// settings of the oidc package and the token rules of the token package.
// Placeholders such as {env.SECRET} are resolved here, at load time.
func (pc *ProviderConfig) compile() (oidc.Config, token.Rules, error) {
	repl := caddy.NewReplacer()
	issuer := repl.ReplaceKnown(pc.Issuer, "")
	if issuer == "" {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("issuer: required; set `issuer https://…` (the provider's issuer URL)")
	}
	oc := oidc.Config{
		Issuer: issuer,
		Overrides: oidc.Metadata{
			AuthorizationEndpoint: repl.ReplaceKnown(pc.AuthorizationEndpoint, ""),
			TokenEndpoint:         repl.ReplaceKnown(pc.TokenEndpoint, ""),
			UserinfoEndpoint:      repl.ReplaceKnown(pc.UserinfoEndpoint, ""),
			JWKSURI:               repl.ReplaceKnown(pc.JWKSURI, ""),
			IntrospectionEndpoint: repl.ReplaceKnown(pc.IntrospectionEndpoint, ""),
			EndSessionEndpoint:    repl.ReplaceKnown(pc.EndSessionEndpoint, ""),
			RevocationEndpoint:    repl.ReplaceKnown(pc.RevocationEndpoint, ""),
		},
		Thumbprints: pc.Thumbprints,
		TLSCA:       repl.ReplaceKnown(pc.TLSCA, ""),
		JWKSRefresh: time.Duration(pc.JWKSRefresh),
		KidCooldown: time.Duration(pc.KidCooldown),
	}
	if err := oc.Validate(); err != nil {
		return oidc.Config{}, token.Rules{}, err
	}

	audiences := pc.Audiences
	if len(audiences) == 0 && pc.ClientID != "" {
		audiences = []string{repl.ReplaceKnown(pc.ClientID, "")}
	}
	if len(audiences) == 0 {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("audiences: none; set `client_id <id>` or `audiences <aud>…` so that tokens meant for other applications are refused")
	}
	if len(audiences) > maxAudiences {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("audiences: %d given, at most %d are allowed (the RAM limit on client IDs per identity provider)", len(audiences), maxAudiences)
	}
	for _, aud := range audiences {
		if aud == "" {
			return oidc.Config{}, token.Rules{}, fmt.Errorf("audiences: an empty audience is not allowed")
		}
	}
	if err := token.ValidateAlgorithms(pc.Algorithms); err != nil {
		return oidc.Config{}, token.Rules{}, err // it names `algorithms`
	}

	types, err := tokenTypes(pc.TokenTypes)
	if err != nil {
		return oidc.Config{}, token.Rules{}, err
	}

	skew := time.Duration(pc.ClockSkew)
	switch {
	case skew < 0 || skew > maxClockSkew:
		return oidc.Config{}, token.Rules{}, fmt.Errorf("clock_skew: %s is out of range; use a value between 0s and %s", skew, maxClockSkew)
	case skew == 0:
		skew = defaultSkew
	}
	age := time.Duration(pc.MaxTokenAge)
	if age != 0 && (age < minMaxTokenAge || age > maxMaxTokenAge) {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("max_token_age: %s is out of range; use a value between 1h and 168h (RAM's earliest issuance time allowed)", age)
	}
	if pc.JWKSRefresh < 0 || pc.KidCooldown < 0 {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("jwks_refresh and kid_cooldown must not be negative")
	}
	switch pc.OpaqueTokens {
	case "", opaqueUserinfo:
	case opaqueIntrospection:
		if pc.ClientID == "" || pc.ClientSecret == "" {
			return oidc.Config{}, token.Rules{}, fmt.Errorf("opaque_tokens introspection: needs client_id and client_secret to authenticate at the introspection endpoint")
		}
	default:
		return oidc.Config{}, token.Rules{}, fmt.Errorf("opaque_tokens %q: use userinfo or introspection", pc.OpaqueTokens)
	}
	if ttl := time.Duration(pc.OpaqueCacheTTL); ttl < 0 || (ttl > 0 && ttl < time.Second) || ttl > maxOpaqueTTL {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("opaque_cache_ttl: %s is out of range; use a value between 1s and %s, or leave it out for the default %s", ttl, maxOpaqueTTL, token.DefaultOpaqueTTL)
	}
	if pc.OpaqueRate < 0 || pc.OpaqueRate > maxOpaqueRate || math.IsNaN(pc.OpaqueRate) {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("opaque_rate: %v calls per second is out of range; use e.g. `opaque_rate 20/s 40` (at most %v/s)", pc.OpaqueRate, maxOpaqueRate)
	}
	if pc.OpaqueBurst < 0 || pc.OpaqueBurst > maxOpaqueBurst {
		return oidc.Config{}, token.Rules{}, fmt.Errorf("opaque_rate: burst %d is out of range; use a burst between 1 and %d, e.g. `opaque_rate 20/s 40`", pc.OpaqueBurst, maxOpaqueBurst)
	}

	if err := pc.checkDPoP(); err != nil {
		return oidc.Config{}, token.Rules{}, err
	}

	rules := token.Rules{
		Issuer:      issuer,
		Audiences:   audiences,
		Algorithms:  pc.Algorithms,
		ClockSkew:   skew,
		MaxTokenAge: age,
		Types:       types,
	}
	return oc, rules, nil
}

// typeAbsent is the token_types word for a token without a typ header.
const typeAbsent = "absent"

// tokenTypes checks token_types and turns it into the token package's
// allow-list (nil: the default).
func tokenTypes(configured []string) ([]string, error) {
	if len(configured) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(configured))
	for _, t := range configured {
		switch t {
		case "":
			return nil, fmt.Errorf("token_types: an empty value is not allowed; write `absent` to accept tokens without a typ header")
		case typeAbsent:
			out = append(out, "")
		default:
			out = append(out, t)
		}
	}
	if err := token.ValidateTypes(out); err != nil {
		return nil, err
	}
	return out, nil
}
