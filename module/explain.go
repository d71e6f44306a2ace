package edgeauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/policy"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// Explanation is what the handler would do with one request carrying one
// bearer token, rule by rule, for `caddy edgeauth explain`. It holds no
// token or secret; claim values appear only as the sanitized header values
// the upstream would receive.
type Explanation struct {
	// PathError is set when the path itself is refused (400).
	PathError string
	// Token is the verification of the token, check by check.
	Token token.Explanation
	// Public reports that the path needs no identity.
	Public bool
	// Optional reports that the path is optional: the token is judged as
	// on a protected path, and a request without any credential would pass
	// anonymously.
	Optional bool
	// Rules are the scope and claim rules that apply to the path, each
	// with whether the verified caller passes it.
	Rules []RuleCheck
	// Decision is the route rules' verdict (meaningful when the token is
	// verified and the path is not public).
	Decision policy.Decision
	// Headers are the identity headers the upstream would receive.
	Headers http.Header
	// STS names the STS exchange the route would also make ("" without).
	STS string
	// Status is the handler's answer: 0 when the request goes on to the
	// upstream, else 400, 401, 403 or 503.
	Status int
}

// RuleCheck is one route rule applied to the caller.
type RuleCheck struct {
	// Rule is the rule as configured, e.g. "scope admin" or
	// "claim department [finance]".
	Rule string
	// OK reports whether the caller passes it; false when the token is not
	// verified.
	OK bool
}

// Accepted reports whether the request would reach the upstream.
func (e *Explanation) Accepted() bool { return e.Status == 0 }

// Explain runs the handler's pipeline on r with the bearer token raw,
// without the verified-token cache, without metrics or decision logs and
// without calling the upstream. r's own Authorization header is ignored.
func (h *Handler) Explain(ctx context.Context, r *http.Request, raw string) *Explanation {
	out := &Explanation{Headers: http.Header{}}
	r = r.Clone(ctx)
	h.headers.Strip(r.Header)
	if err := policy.CheckPath(r.URL); err != nil {
		out.PathError = err.Error()
		out.Status = http.StatusBadRequest
		return out
	}
	need := h.policy.Evaluate(r)
	out.Public, out.Optional = need.Public, need.Optional

	out.Token = h.bearer.explain(ctx, raw)
	id := out.Token.Identity
	if h.STS != nil {
		out.STS = h.STS.Name
	}
	if need.Public {
		return out
	}
	for _, s := range need.Scopes {
		out.Rules = append(out.Rules, RuleCheck{
			Rule: "scope " + s,
			OK:   id != nil && policy.Requirement{Scopes: []string{s}}.Authorize(id).Outcome == policy.Allow,
		})
	}
	for _, c := range need.Claims {
		out.Rules = append(out.Rules, RuleCheck{
			Rule: "claim " + c.Claim + " [" + strings.Join(c.Values, " ") + "]",
			OK:   id != nil && policy.Requirement{Claims: []policy.ClaimRule{c}}.Authorize(id).Outcome == policy.Allow,
		})
	}
	if id == nil {
		out.Status = http.StatusUnauthorized
		var te *token.Error
		if errors.As(out.Token.Err, &te) && te.Kind == token.Unavailable {
			out.Status = http.StatusServiceUnavailable
		}
		return out
	}
	out.Decision = need.Authorize(id)
	if out.Decision.Outcome != policy.Allow {
		out.Status = http.StatusForbidden
		return out
	}
	repl := caddy.NewReplacer()
	identity.Provide(repl, id)
	h.headers.Inject(out.Headers, id, repl)
	h.maskConfiguredSecrets(out.Headers)
	return out
}

// maskConfiguredSecrets hides the values of `header` settings that read
// the environment or a file: those hold the operator's secrets (an API key
// for the upstream), not the caller's identity.
func (h *Handler) maskConfiguredSecrets(hdr http.Header) {
	for _, hc := range h.Headers {
		if strings.HasPrefix(hc.Name, "-") || !(strings.Contains(hc.Value, "{env.") || strings.Contains(hc.Value, "{file.")) {
			continue
		}
		if vals := hdr.Values(hc.Name); len(vals) > 0 {
			hdr.Set(hc.Name, "(set from the environment or a file; not shown)")
		}
	}
}

// explain verifies raw as authenticate does, but past the cache and with
// every check's outcome.
func (b *bearerAuth) explain(ctx context.Context, raw string) token.Explanation {
	if b.opaque != nil && !token.JWTShaped(raw) {
		out := token.Explanation{Provider: b.opaque.name}
		mode := string(b.opaque.opaque.Mode())
		id, err := b.opaque.opaque.Check(ctx, raw)
		if err != nil {
			out.Err = err
			out.Checks = []token.Check{{Name: "opaque", Detail: "the provider's " + mode + " endpoint refused it: " + opaqueDetail(err)}}
			return out
		}
		out.Identity = id
		out.Checks = []token.Check{{Name: "opaque", OK: true, Detail: "accepted by the provider's " + mode + " endpoint"}}
		return out
	}
	return b.selector.Explain(ctx, raw)
}

// opaqueDetail is the description of an opaque-token refusal.
func opaqueDetail(err error) string {
	var te *token.Error
	if errors.As(err, &te) {
		return te.Description
	}
	return "not accepted"
}
