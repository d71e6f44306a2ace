package identity

import (
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// UserPlaceholderPrefix is the namespace of the identity placeholders.
const UserPlaceholderPrefix = "http.auth.user."

// Provide registers on repl a lazy provider of the identity placeholders:
//
//   - {http.auth.user.id}: the subject (Caddy's access log reads it as user_id);
//   - {http.auth.user.scopes}: the granted scopes, space-separated;
//   - {http.auth.user.provider}: the configured provider name;
//   - {http.auth.user.token_binding}: dpop or mtls for a sender-constrained
//     token, else "";
//   - {http.auth.user.<claim path>}: ClaimValue of that claim or dotted path.
//
// These four names win over claims of the same name. Every key under the
// prefix is answered (with "" when the claim is absent or not exportable), so
// a template never keeps a literal placeholder for a missing claim. Values are
// computed only when asked for and are already sanitized; they are returned
// as values, never scanned for placeholders. A nil id registers nothing.
func Provide(repl *caddy.Replacer, id *Identity) {
	if repl == nil || id == nil {
		return
	}
	repl.Map(func(key string) (any, bool) {
		path, ok := strings.CutPrefix(key, UserPlaceholderPrefix)
		if !ok || path == "" {
			return nil, false
		}
		switch path {
		case "id":
			return subject(id), true
		case "scopes":
			return scopes(id), true
		case "provider":
			return Sanitize(id.Provider), true
		case "token_binding":
			return bindingMethod(id), true
		}
		v, _ := ClaimValue(id.Claims, path)
		return v, true
	})
}
