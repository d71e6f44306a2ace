package edgeauth

import (
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/edgeauth/caddy-edgeauth/module/dpop"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
	"github.com/edgeauth/caddy-edgeauth/module/session"
	"github.com/edgeauth/caddy-edgeauth/module/sts"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// UnmarshalCaddyfile sets up the app from the `edgeauth` global option.
// Syntax:
//
//	edgeauth {
//		provider <name> {
//			issuer <url>
//			client_id <id>
//			client_secret <secret>
//			scopes <scope>...
//			audiences <aud>...
//			algorithms <alg>...
//			token_types <typ>|absent...
//			clock_skew <duration>
//			max_token_age <duration>
//			thumbprints <sha1-hex>...
//			tls_ca <pem-file>
//			authorization_endpoint <url>
//			token_endpoint <url>
//			userinfo_endpoint <url>
//			jwks_uri <url>
//			introspection_endpoint <url>
//			end_session_endpoint <url>
//			revocation_endpoint <url>
//			jwks_refresh <duration>
//			kid_cooldown <duration>
//			preset aliyun|aliyun_intl
//			opaque_tokens introspection|userinfo
//			opaque_cache_ttl <duration>
//			opaque_rate <n>/s|<n>/m [<burst>]
//			dpop allowed|required
//			dpop_algorithms <alg>...
//			dpop_proof_max_age <duration>
//			dpop_nonce [<window>]
//		}
//		session {
//			secret <secret>...
//			lifetime <duration>
//			cookie_name <name>
//			store redis {
//				address <host:port>...
//				sentinel <master>
//				cluster
//				username <user>
//				password <password>
//				db <n>
//				key_prefix <prefix>
//				tls
//				tls_ca <pem-file>
//				tls_server_name <name>
//				fallback closed|cookie
//				timeout <duration>
//				near_cache off
//				near_cache {
//					max_entries <n>
//					max_bytes <size>
//					lease <duration>
//				}
//			}
//		}
//		sts <name> {
//			type alibaba|aws|token_exchange
//			endpoint <url>
//			region <region> [vpc]
//			oidc_provider_arn <arn>
//			role_arn <arn>
//			duration <duration>
//			policy <json>
//			timeout <duration>
//			refresh_margin <duration>
//			max_entries <n>
//			tls_ca <pem-file>
//			token_file <path>
//			client_credentials {
//				token_endpoint <url>
//				client_id <id>
//				client_secret <secret>
//				scopes <scope>...
//				auth_method client_secret_basic|client_secret_post
//			}
//			token_endpoint <url>
//			client_id <id>
//			client_secret <secret>
//			auth_method client_secret_basic|client_secret_post
//			audience <aud>...
//			resource <uri>...
//			scope <scope>
//			subject_token_type <urn>
//		}
//		token_cache {
//			max_entries <n>
//			max_ttl <duration>
//		}
//		assertion {
//			issuer <https-url>
//			algorithm ES256|EdDSA|RS256|PS256
//			lifetime <duration>
//			rotate <duration>
//			key_file <pem-file>
//		}
//	}
//
// `assertion` sets how identity assertions (for routes with the
// `assertion` subdirective) are signed: issuer is required; algorithm
// defaults to ES256, lifetime to 2m (30s to 1h), rotate to 720h (at least
// 30s and the lifetime); without key_file keys are generated and kept in
// Caddy's storage. `provider` may appear several times with different names. The option may
// also appear several times; the blocks are merged.
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if err := noValue(d, "edgeauth", "`edgeauth { … }` (the global option takes a block)"); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "provider":
			if err := namedBlock(d, "provider", "provider", "aliyun", &a.Providers, (*ProviderConfig).UnmarshalCaddyfile); err != nil {
				return err
			}
		case "session":
			if err := noValue(d, "session", "`session { … }`"); err != nil {
				return err
			}
			if a.Session == nil {
				a.Session = new(SessionConfig)
			}
			if err := a.Session.unmarshalBlock(d); err != nil {
				return err
			}
		case "sts":
			if err := namedBlock(d, "sts", "STS", "alibaba", &a.STS, (*STSConfig).UnmarshalCaddyfile); err != nil {
				return err
			}
		case "assertion":
			if a.Assertion != nil {
				return d.Errf("assertion: given twice; keep one block")
			}
			a.Assertion = new(AssertionConfig)
			if err := a.Assertion.unmarshalBlock(d); err != nil {
				return err
			}
		case "token_cache":
			if err := noValue(d, "token_cache", "`token_cache { … }`"); err != nil {
				return err
			}
			if a.TokenCache == nil {
				a.TokenCache = new(TokenCacheConfig)
			}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				switch d.Val() {
				case "max_entries":
					n, err := oneInt(d, "token_cache max_entries", 0)
					if err != nil {
						return err
					}
					a.TokenCache.MaxEntries = n
				case "max_ttl":
					if err := oneDuration(d, "token_cache max_ttl", &a.TokenCache.MaxTTL); err != nil {
						return err
					}
				default:
					return d.Errf("token_cache: unknown option %q (expected max_entries or max_ttl)", d.Val())
				}
			}
		default:
			return d.Errf("edgeauth: unknown option %q (expected provider, session, sts, token_cache or assertion)", d.Val())
		}
	}
	return nil
}

// namedBlock reads one `<kind> <name> { … }` block of the global option into
// (*m)[name]: the name is required, valid (validateName) and new; parse
// reads the block with the dispenser on the name. noun names the thing in
// the duplicate error; example is a name for the error's example.
func namedBlock[T any](d *caddyfile.Dispenser, kind, noun, example string, m *map[string]*T, parse func(*T, *caddyfile.Dispenser) error) error {
	name, err := oneArg(d, kind, "name", "`"+kind+" <name> { … }`, e.g. `"+kind+" "+example+" { … }`")
	if err != nil {
		return err
	}
	if err := validateName(name); err != nil {
		return d.Errf("%s %q: %v", kind, name, err)
	}
	if *m == nil {
		*m = make(map[string]*T)
	}
	if _, dup := (*m)[name]; dup {
		return d.Errf("%s %s is defined twice; give each %s its own name", kind, name, noun)
	}
	v := new(T)
	if err := parse(v, d); err != nil {
		return err
	}
	(*m)[name] = v
	return nil
}

// UnmarshalCaddyfile reads the body of a `provider <name> { … }` block; the
// dispenser stands on the provider's name. See App.UnmarshalCaddyfile for the
// syntax.
func (pc *ProviderConfig) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	strs := map[string]*string{
		"issuer":                 &pc.Issuer,
		"client_id":              &pc.ClientID,
		"client_secret":          &pc.ClientSecret,
		"tls_ca":                 &pc.TLSCA,
		"authorization_endpoint": &pc.AuthorizationEndpoint,
		"token_endpoint":         &pc.TokenEndpoint,
		"userinfo_endpoint":      &pc.UserinfoEndpoint,
		"jwks_uri":               &pc.JWKSURI,
		"introspection_endpoint": &pc.IntrospectionEndpoint,
		"end_session_endpoint":   &pc.EndSessionEndpoint,
		"revocation_endpoint":    &pc.RevocationEndpoint,
		"preset":                 &pc.Preset,
		"opaque_tokens":          &pc.OpaqueTokens,
		"dpop":                   &pc.DPoP,
	}
	lists := map[string]*[]string{
		"scopes":          &pc.Scopes,
		"audiences":       &pc.Audiences,
		"algorithms":      &pc.Algorithms,
		"token_types":     &pc.TokenTypes,
		"thumbprints":     &pc.Thumbprints,
		"dpop_algorithms": &pc.DPoPAlgorithms,
	}
	durations := map[string]*caddy.Duration{
		"clock_skew":         &pc.ClockSkew,
		"max_token_age":      &pc.MaxTokenAge,
		"jwks_refresh":       &pc.JWKSRefresh,
		"kid_cooldown":       &pc.KidCooldown,
		"opaque_cache_ttl":   &pc.OpaqueCacheTTL,
		"dpop_proof_max_age": &pc.DPoPProofMaxAge,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch {
		case strs[opt] != nil:
			v, err := oneString(d, "provider "+opt)
			if err != nil {
				return err
			}
			*strs[opt] = v
			if opt == "preset" {
				if err := checkPreset(v); err != nil {
					return d.Errf("%v", err)
				}
			}
			if opt == "dpop" && v != dpopAllowed && v != dpopRequired {
				return d.Errf("dpop %q: use `dpop allowed` (bound tokens need proofs, others pass as bearer tokens) or `dpop required`", v)
			}
		case lists[opt] != nil:
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return d.Errf("%s: at least one value is required", opt)
			}
			*lists[opt] = append(*lists[opt], vals...)
			switch opt {
			case "token_types":
				if _, err := tokenTypes(*lists[opt]); err != nil {
					return d.Errf("%v", err)
				}
			case "algorithms":
				if err := token.ValidateAlgorithms(vals); err != nil {
					return d.Errf("%v", err)
				}
			case "dpop_algorithms":
				if err := dpop.ValidateAlgorithms(vals); err != nil {
					return d.Errf("%v", err)
				}
			}
		case durations[opt] != nil:
			if err := oneDuration(d, "provider "+opt, durations[opt]); err != nil {
				return err
			}
		case opt == "opaque_rate":
			if err := pc.unmarshalOpaqueRate(d); err != nil {
				return err
			}
		case opt == "dpop_nonce":
			const usage = "`dpop_nonce` or `dpop_nonce 5m` (how long one nonce is handed out)"
			pc.DPoPNonce = true
			v, ok, err := optionalArg(d, "provider dpop_nonce", "window", usage)
			if err != nil {
				return err
			}
			if ok {
				w, err := caddy.ParseDuration(v)
				if err != nil {
					return d.Errf("provider dpop_nonce: %q is not a duration; write %s", v, usage)
				}
				pc.DPoPNonceWindow = caddy.Duration(w)
			}
			if err := noBlock(d, "provider dpop_nonce"); err != nil {
				return err
			}
		default:
			return d.Errf("provider: unknown option %q", opt)
		}
	}
	return nil
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	edgeauth [<matcher>] [<provider>...] {
//		public <path>...
//		optional <path>...
//		scope <path> <scope>...
//		claim <path> <claim> <value>... [{
//			allow_unverified_email
//		}]
//		header <name> <value>
//		header -<name>
//		strip_prefix <prefix>...
//		login [<prefix>] {
//			redirect_url <url>
//			post_logout_redirect_uri <url>
//			auth_method client_secret_basic|client_secret_post
//			param <name> <value>
//			allow_missing_nonce
//			logout_id_token_hint
//		}
//		decision_log_level debug|info|warn|error
//		pass_access_token
//		dpop_origin <url>
//		sts <name> {
//			role_arn <arn>
//			role_session_name <template>
//			role_from_claim <claim> <value> <arn>
//			source caller|workload
//			header access_key_id|access_key_secret|security_token|expiration <name>
//		}
//		assertion [<audience>]
//	}
//
// The providers are names from the edgeauth global option; with none, every
// configured provider is accepted (a token is matched to one by its `iss`).
// Paths are Caddy path patterns (`/exact`, `/prefix/*`, `*.ext`). A request
// must satisfy every `scope` and `claim` rule whose path matches; `public`
// opens a path only where no such rule matches; `optional` likewise makes an
// identity optional (a valid bearer token or session gives it, none or an
// ended session passes anonymously with the identity headers stripped, an
// invalid bearer token is refused), and `public` wins where both match.
// `pass_access_token` (with `login`) sends session requests upstream with
// `Authorization: Bearer <the session's access token>`. `claim` values are patterns
// (`*` any run of characters, `?` one character, `\*` `\?` `\\` literal) matched
// on the raw claim; for an array claim one element must match. A rule on the
// `email` claim takes `<local>@<domain>` patterns such as `*@example.com` or
// `*@*.example.com` (the domain is `*`, a name, or `*.` and a name),
// compares them case-insensitively (ASCII letters) with an `email` claim that
// is one well-formed address, and needs `email_verified` true unless its
// block says `allow_unverified_email`. `header` sets an identity
// header for the upstream from a template of placeholders; `header -X-Auth-Email`
// removes a default header. Client-supplied headers starting with X-Auth- or
// X-Sts- (or a configured strip_prefix), and every configured header name, are
// always deleted. `login` turns on the browser login with the first provider
// (endpoints under the prefix, default /oauth2/); its block is optional.
// `sts` exchanges the caller's token at a configured STS and passes the
// temporary credentials upstream; its block is optional too. `dpop_origin`
// is the scheme and host (https://api.example.com) that DPoP proofs' htu
// must name when another proxy in front changes them (default: this
// connection's scheme and the Host header).
// `assertion` sends the upstream a signed identity assertion (a JWT) in
// X-Auth-Assertion, with the audience given or, by default, the request's
// origin `<scheme>://<host>`; it needs the global `assertion` block.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	h.Providers = append(h.Providers, d.RemainingArgs()...)
	for d.NextBlock(0) {
		switch d.Val() {
		case "public":
			paths := d.RemainingArgs()
			if len(paths) == 0 {
				return d.Errf("public: at least one path is required, e.g. `public /healthz /static/*`")
			}
			h.Public = append(h.Public, paths...)
		case "optional":
			paths := d.RemainingArgs()
			if len(paths) == 0 {
				return d.Errf("optional: at least one path is required, e.g. `optional / /blog/*`")
			}
			h.Optional = append(h.Optional, paths...)
		case "pass_access_token":
			if err := flagOption(d, "pass_access_token"); err != nil {
				return err
			}
			h.PassAccessToken = true
		case "scope":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("scope: a path and at least one scope are required, e.g. `scope /admin/* profile`")
			}
			for _, sc := range args[1:] {
				if strings.HasPrefix(sc, "/") && strings.Contains(sc, "*") {
					return d.Errf("scope %s: %q looks like a path pattern; a scope rule takes one path (a rule on /x/* also covers /x): write one `scope` line per path", args[0], sc)
				}
			}
			h.Scopes = append(h.Scopes, policy.ScopeRule{Paths: args[:1], Scopes: args[1:]})
		case "claim":
			rule, err := unmarshalClaimRule(d)
			if err != nil {
				return err
			}
			h.Claims = append(h.Claims, rule)
		case "header":
			args := d.RemainingArgs()
			switch {
			case len(args) == 1 && strings.HasPrefix(args[0], "-"):
				h.Headers = append(h.Headers, HeaderConfig{Name: args[0]})
			case len(args) == 2 && !strings.HasPrefix(args[0], "-"):
				h.Headers = append(h.Headers, HeaderConfig{Name: args[0], Value: args[1]})
			default:
				return d.Errf("header: expected `header <name> <value>` or `header -<name>`")
			}
		case "strip_prefix":
			prefixes := d.RemainingArgs()
			if len(prefixes) == 0 {
				return d.Errf("strip_prefix: at least one header prefix is required")
			}
			h.StripPrefixes = append(h.StripPrefixes, prefixes...)
		case "login":
			if h.Login != nil {
				return d.Errf("login: given twice")
			}
			h.Login = new(LoginConfig)
			if err := h.Login.UnmarshalCaddyfile(d); err != nil {
				return err
			}
		case "dpop_origin":
			v, err := oneString(d, "dpop_origin")
			if err != nil {
				return err
			}
			if _, err := parseDPoPOrigin(v); err != nil {
				return d.Errf("%v", err)
			}
			h.DPoPOrigin = v
		case "decision_log_level":
			v, err := oneLeaf(d, "decision_log_level", "level", "`decision_log_level debug|info|warn|error`")
			if err != nil {
				return err
			}
			h.DecisionLogLevel = v
		case "sts":
			if h.STS != nil {
				return d.Errf("sts: given twice")
			}
			h.STS = new(STSUse)
			if err := h.STS.UnmarshalCaddyfile(d); err != nil {
				return err
			}
		case "assertion":
			if h.Assertion != nil {
				return d.Errf("assertion: given twice")
			}
			u, err := unmarshalAssertionUse(d)
			if err != nil {
				return err
			}
			h.Assertion = u
		default:
			return d.Errf("edgeauth: unknown subdirective %q (expected public, optional, scope, claim, header, strip_prefix, login, sts, pass_access_token, dpop_origin, assertion or decision_log_level)", d.Val())
		}
	}
	return nil
}

// UnmarshalCaddyfile reads `login [<prefix>] { … }`; the dispenser stands on
// `login`. See Handler.UnmarshalCaddyfile for the syntax.
func (lc *LoginConfig) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	prefix, ok, err := optionalArg(d, "login", "prefix", "`login [<prefix>] [{ … }]`, e.g. `login /auth/`")
	if err != nil {
		return err
	}
	if ok {
		if err := checkLoginPrefix(prefix); err != nil {
			return d.Errf("%v", err)
		}
		lc.Prefix = prefix
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "redirect_url", "post_logout_redirect_uri", "auth_method":
			v, err := oneString(d, "login "+opt)
			if err != nil {
				return err
			}
			switch opt {
			case "redirect_url":
				lc.RedirectURL = v
			case "post_logout_redirect_uri":
				lc.PostLogoutRedirectURI = v
			default:
				if err := checkAuthMethod(v); err != nil {
					return d.Errf("%v", err)
				}
				lc.AuthMethod = v
			}
		case "param":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("login param: expected `param <name> <value>`")
			}
			if lc.Params == nil {
				lc.Params = make(map[string]string)
			}
			lc.Params[args[0]] = args[1]
		case "allow_missing_nonce":
			if err := flagOption(d, "login allow_missing_nonce"); err != nil {
				return err
			}
			lc.AllowMissingNonce = true
		case "logout_id_token_hint":
			if err := flagOption(d, "login logout_id_token_hint"); err != nil {
				return err
			}
			lc.LogoutIDTokenHint = true
		default:
			return d.Errf("login: unknown option %q (expected redirect_url, post_logout_redirect_uri, auth_method, param, allow_missing_nonce or logout_id_token_hint)", opt)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the body of a global `sts <name> { … }` block; the
// dispenser stands on the name. See App.UnmarshalCaddyfile for the syntax.
func (sc *STSConfig) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	strs := map[string]*string{
		"type": &sc.Type, "endpoint": &sc.Endpoint, "oidc_provider_arn": &sc.OIDCProviderARN,
		"role_arn": &sc.RoleARN, "policy": &sc.Policy, "tls_ca": &sc.TLSCA, "token_file": &sc.TokenFile,
		"token_endpoint": &sc.TokenEndpoint, "client_id": &sc.ClientID, "client_secret": &sc.ClientSecret,
		"auth_method": &sc.AuthMethod, "scope": &sc.Scope, "subject_token_type": &sc.SubjectTokenType,
	}
	durations := map[string]*caddy.Duration{
		"duration": &sc.Duration, "timeout": &sc.Timeout, "refresh_margin": &sc.RefreshMargin,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch {
		case strs[opt] != nil:
			usage := "`" + opt + " <value>`"
			if opt == "policy" {
				usage = "`policy <json>` with the JSON document quoted as one value"
			}
			v, err := oneLeaf(d, "sts "+opt, "value", usage)
			if err != nil {
				return err
			}
			*strs[opt] = v
		case durations[opt] != nil:
			if err := oneDuration(d, "sts "+opt, durations[opt]); err != nil {
				return err
			}
			if opt == "duration" {
				if err := sts.ValidateDuration(time.Duration(sc.Duration)); err != nil {
					return d.Errf("sts %v", err)
				}
			}
		case opt == "region":
			args := d.RemainingArgs()
			if len(args) == 0 || len(args) > 2 || (len(args) == 2 && args[1] != "vpc") {
				return d.Errf("sts region: expected `region <region> [vpc]`")
			}
			sc.Region, sc.VPC = args[0], len(args) == 2
		case opt == "max_entries":
			n, err := oneInt(d, "sts max_entries", 0)
			if err != nil {
				return err
			}
			sc.MaxEntries = n
		case opt == "audience" || opt == "resource":
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return d.Errf("sts %s: at least one value is required", opt)
			}
			if opt == "audience" {
				sc.Audience = append(sc.Audience, vals...)
			} else {
				sc.Resource = append(sc.Resource, vals...)
			}
		case opt == "client_credentials":
			if err := noValue(d, "sts client_credentials", "`client_credentials { … }`"); err != nil {
				return err
			}
			cc := new(ClientCredentialsConfig)
			for n := d.Nesting(); d.NextBlock(n); {
				field := d.Val()
				switch field {
				case "scopes":
					cc.Scopes = append(cc.Scopes, d.RemainingArgs()...)
					continue
				case "token_endpoint", "client_id", "client_secret", "auth_method":
				default:
					return d.Errf("sts client_credentials: unknown option %q (expected token_endpoint, client_id, client_secret, scopes or auth_method)", field)
				}
				v, err := oneString(d, "sts client_credentials "+field)
				if err != nil {
					return err
				}
				switch field {
				case "token_endpoint":
					cc.TokenEndpoint = v
				case "client_id":
					cc.ClientID = v
				case "client_secret":
					cc.ClientSecret = v
				default:
					cc.AuthMethod = v
				}
			}
			sc.ClientCredentials = cc
		default:
			return d.Errf("sts: unknown option %q", opt)
		}
	}
	return nil
}

// UnmarshalCaddyfile reads the directive's `sts <name> [{ … }]`; the
// dispenser stands on `sts`. See Handler.UnmarshalCaddyfile for the syntax.
func (u *STSUse) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	name, err := oneArg(d, "sts", "name", "`sts <name> [{ … }]` with the name of an `sts` block of the edgeauth global option, e.g. `sts alibaba`")
	if err != nil {
		return err
	}
	u.Name = name
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "role_arn", "role_session_name", "source":
			v, err := oneString(d, "sts "+opt)
			if err != nil {
				return err
			}
			switch opt {
			case "role_arn":
				u.RoleARN = v
			case "role_session_name":
				u.RoleSessionName = v
			default:
				u.Source = v
			}
		case "role_from_claim":
			args := d.RemainingArgs()
			if len(args) != 3 {
				return d.Errf("sts role_from_claim: expected `role_from_claim <claim> <value> <role-arn>`")
			}
			u.RoleFromClaims = append(u.RoleFromClaims, RoleFromClaim{Claim: args[0], Value: args[1], RoleARN: args[2]})
		case "header":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("sts header: expected `header access_key_id|access_key_secret|security_token|expiration <name>`")
			}
			if u.Headers == nil {
				u.Headers = new(STSHeaders)
			}
			switch args[0] {
			case "access_key_id":
				u.Headers.AccessKeyID = args[1]
			case "access_key_secret":
				u.Headers.AccessKeySecret = args[1]
			case "security_token":
				u.Headers.SecurityToken = args[1]
			case "expiration":
				u.Headers.Expiration = args[1]
			default:
				return d.Errf("sts header: %q is not a credential; use access_key_id, access_key_secret, security_token or expiration", args[0])
			}
		default:
			return d.Errf("sts: unknown option %q (expected role_arn, role_session_name, role_from_claim, source or header)", opt)
		}
	}
	return nil
}

// unmarshalBlock reads the body of `session { … }`; the dispenser stands on
// `session`. See App.UnmarshalCaddyfile for the syntax.
func (sc *SessionConfig) unmarshalBlock(d *caddyfile.Dispenser) error {
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "secret":
			secrets := d.RemainingArgs()
			if len(secrets) == 0 {
				return d.Errf("session secret: at least one secret is required (the first seals, all open)")
			}
			for _, secret := range secrets {
				sc.Secrets = append(sc.Secrets, secret)
				// A literal secret is checked here, with the line; one
				// with placeholders is checked once they are resolved.
				if !strings.Contains(secret, "{") && len(secret) < session.MinSecretLen {
					return d.Errf("session secret %d: it is %d bytes, at least %d are needed (e.g. `openssl rand -base64 48`)", len(sc.Secrets), len(secret), session.MinSecretLen)
				}
			}
		case "lifetime":
			if err := oneDuration(d, "session lifetime", &sc.Lifetime); err != nil {
				return err
			}
		case "cookie_name":
			v, err := oneLeaf(d, "session cookie_name", "name", "`cookie_name <name>`")
			if err != nil {
				return err
			}
			sc.CookieName = v
		case "store":
			const usage = "`store redis { … }`"
			kind, err := oneArg(d, "session store", "kind", usage)
			if err != nil {
				return err
			}
			if kind != "redis" {
				return d.Errf("session store: expected %s; %q is not a store kind", usage, kind)
			}
			rc := new(RedisStoreConfig)
			if err := rc.unmarshalBlock(d); err != nil {
				return err
			}
			sc.Store = &StoreConfig{Redis: rc}
		default:
			return d.Errf("session: unknown option %q (expected secret, lifetime, cookie_name or store)", d.Val())
		}
	}
	return nil
}

// unmarshalBlock reads the body of `store redis { … }`. See
// App.UnmarshalCaddyfile for the syntax.
func (rc *RedisStoreConfig) unmarshalBlock(d *caddyfile.Dispenser) error {
	strs := map[string]*string{
		"sentinel": &rc.SentinelMaster, "username": &rc.Username, "password": &rc.Password,
		"key_prefix": &rc.KeyPrefix, "tls_ca": &rc.TLSCA, "tls_server_name": &rc.TLSServerName,
		"fallback": &rc.Fallback,
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch {
		case opt == "address":
			addrs := d.RemainingArgs()
			if len(addrs) == 0 {
				return d.Errf("store redis address: at least one host:port is required")
			}
			rc.Addresses = append(rc.Addresses, addrs...)
		case strs[opt] != nil:
			v, err := oneString(d, "store redis "+opt)
			if err != nil {
				return err
			}
			*strs[opt] = v
		case opt == "cluster" || opt == "tls":
			if err := flagOption(d, "store redis "+opt); err != nil {
				return err
			}
			if opt == "cluster" {
				rc.Cluster = true
			} else {
				rc.TLS = true
			}
		case opt == "db":
			n, err := oneInt(d, "store redis db", 0)
			if err != nil {
				return err
			}
			rc.DB = n
		case opt == "timeout":
			if err := oneDuration(d, "store redis timeout", &rc.Timeout); err != nil {
				return err
			}
		case opt == "near_cache":
			n, err := unmarshalNearCache(d)
			if err != nil {
				return err
			}
			rc.NearCache = n
		default:
			return d.Errf("store redis: unknown option %q (expected address, sentinel, cluster, username, password, db, key_prefix, tls, tls_ca, tls_server_name, fallback, timeout or near_cache)", opt)
		}
	}
	if len(rc.Addresses) == 0 {
		return d.Errf("store redis: `address host:port` is required")
	}
	return nil
}

// Interface guards.
var (
	_ caddyfile.Unmarshaler = (*App)(nil)
	_ caddyfile.Unmarshaler = (*ProviderConfig)(nil)
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*LoginConfig)(nil)
	_ caddyfile.Unmarshaler = (*STSConfig)(nil)
	_ caddyfile.Unmarshaler = (*STSUse)(nil)
)

// unmarshalOpaqueRate reads `opaque_rate <n>/s|<n>/m [<burst>]`: the bound
// on provider calls for unknown opaque tokens (ranges are checked at load).
func (pc *ProviderConfig) unmarshalOpaqueRate(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.Errf("opaque_rate: takes a rate and an optional burst, e.g. `opaque_rate 20/s 40`")
	}
	num, unit, ok := strings.Cut(args[0], "/")
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || !(n > 0 && n <= maxOpaqueRate*60) {
		return d.Errf("opaque_rate: %q is not a rate; write calls per second or per minute, e.g. `20/s` or `600/m`", args[0])
	}
	switch unit {
	case "s":
		pc.OpaqueRate = n
	case "m":
		pc.OpaqueRate = n / 60
	default:
		return d.Errf("opaque_rate: %q: the unit must be /s or /m, e.g. `20/s`", args[0])
	}
	if len(args) == 2 {
		burst, err := strconv.Atoi(args[1])
		if err != nil || burst < 1 {
			return d.Errf("opaque_rate: burst %q must be a whole number of at least 1, e.g. `opaque_rate 20/s 40`", args[1])
		}
		pc.OpaqueBurst = burst
	}
	return nil
}
