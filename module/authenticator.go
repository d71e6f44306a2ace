package edgeauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

func init() {
	caddy.RegisterModule(Authenticator{})
}

// Authenticator is the `http.authentication.providers.edgeauth` provider: it
// verifies bearer tokens exactly as the edgeauth handler does, for use inside
// Caddy's `authentication` handler (so that `handle_errors` can shape the
// answer). On success the user ID is the token's `sub` and the metadata holds
// the exportable claims plus `scopes`; Caddy publishes them as
// {http.auth.user.*}. Route rules and identity headers are the handler's job.
//
// JSON only:
//
//	{"handler": "authentication", "providers": {"edgeauth": {"providers": ["aliyun"]}}}
type Authenticator struct {
	// Providers names the providers whose tokens are accepted. Default: all.
	Providers []string `json:"providers,omitempty"`

	// DPoPOrigin overrides the scheme and host that DPoP proofs' htu must
	// name (as the handler's dpop_origin).
	DPoPOrigin string `json:"dpop_origin,omitempty"`

	bearer bearerAuth
}

// CaddyModule returns the Caddy module information.
func (Authenticator) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.authentication.providers.edgeauth",
		New: func() caddy.Module { return new(Authenticator) },
	}
}

// Provision resolves the named providers.
func (a *Authenticator) Provision(ctx caddy.Context) error {
	if err := a.bearer.setup(ctx, a.Providers); err != nil {
		return err
	}
	return a.bearer.setOrigin(a.DPoPOrigin)
}

// Authenticate verifies the request's bearer token. A missing or bad token is
// not an error: it returns false and sets the RFC 6750 challenge. Keys that
// have not loaded yet are an error (a technical failure), which Caddy exposes
// as {http.auth.edgeauth.error}. Connection and Proxy-Connection keep only
// connection options (close, keep-alive, upgrade, te), so that a caller cannot
// have the proxy drop identity headers the operator sets after this handler.
func (a *Authenticator) Authenticate(w http.ResponseWriter, r *http.Request) (caddyauth.User, bool, error) {
	// Headers set from {http.auth.user.*} after this handler (request_header)
	// must not be droppable by naming them in Connection.
	identity.KeepConnectionOptions(r.Header)
	if multipleAuthorization(r) {
		w.Header().Set("WWW-Authenticate", "Bearer realm="+quote(r.Host)+`, error="invalid_request", error_description="more than one Authorization header"`)
		return caddyauth.User{}, false, nil
	}
	cred, presented := presentedCredential(r)
	if !presented {
		w.Header().Set("WWW-Authenticate", "Bearer realm="+quote(r.Host))
		return caddyauth.User{}, false, nil
	}
	id, nonce, err, refusal := a.bearer.authenticateRequest(r, cred)
	if refusal != nil {
		if refusal.unavailable {
			return caddyauth.User{}, false, refusal
		}
		c1, c2 := refusal.challenges(r, cred.dpop)
		w.Header().Set("WWW-Authenticate", c1)
		if c2 != "" {
			w.Header().Add("WWW-Authenticate", c2)
		}
		if refusal.nonce != "" {
			w.Header().Set("DPoP-Nonce", refusal.nonce)
		}
		return caddyauth.User{}, false, nil
	}
	if nonce != "" {
		w.Header().Set("DPoP-Nonce", nonce)
	}
	if err != nil {
		var te *token.Error
		if errors.As(err, &te) && te.Kind == token.Unavailable {
			return caddyauth.User{}, false, err
		}
		desc := "token is not valid"
		if te != nil {
			desc = te.Description
		}
		if cred.dpop {
			c1, c2 := a.bearer.dpopTokenChallenges(r, desc)
			w.Header().Set("WWW-Authenticate", c1)
			w.Header().Add("WWW-Authenticate", c2)
			return caddyauth.User{}, false, nil
		}
		w.Header().Set("WWW-Authenticate", "Bearer realm="+quote(r.Host)+`, error="invalid_token", error_description=`+quote(desc))
		return caddyauth.User{}, false, nil
	}
	return userOf(id), true, nil
}

// userOf turns an identity into Caddy's user: ID = sub, metadata = every
// claim that exports as a string, plus `scopes`, `provider` and
// `token_binding` (dpop, mtls or empty), which are always the gateway's own
// values. Caddy sets {http.auth.user.id} from the
// ID and then {http.auth.user.<key>} for each metadata key, so a claim named
// like a reserved key (`id`, `scopes`, `provider`) is left out: a token's
// `id` claim must never override the subject, nor a `scopes` claim the
// granted scopes.
func userOf(id *identity.Identity) caddyauth.User {
	meta := make(map[string]string, len(id.Claims)+2)
	for name := range id.Claims {
		if reservedUserKey(name) {
			continue
		}
		if v, ok := identity.ClaimValue(id.Claims, name); ok {
			meta[name] = v
		}
	}
	meta["scopes"] = strings.Join(id.Scopes, " ")
	meta["provider"] = id.Provider
	meta["token_binding"] = ""
	if id.Binding != nil {
		meta["token_binding"] = id.Binding.Method
	}
	return caddyauth.User{ID: id.Subject, Metadata: meta}
}

// reservedUserKey reports whether a metadata key is the gateway's own
// placeholder (http.auth.user.id, .scopes, .provider, .token_binding), in any case: Caddy's
// placeholders are looked up as written, but a claim differing only in case
// would still confuse a reader of the logs.
func reservedUserKey(name string) bool {
	return strings.EqualFold(name, "id") || strings.EqualFold(name, "scopes") || strings.EqualFold(name, "provider") ||
		strings.EqualFold(name, "token_binding")
}

// Interface guards.
var (
	_ caddy.Provisioner       = (*Authenticator)(nil)
	_ caddyauth.Authenticator = (*Authenticator)(nil)
)
