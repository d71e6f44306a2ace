package policy

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Policy is a compiled Config. It is safe for concurrent use.
type Policy struct {
	public   caddyhttp.MatchPath // nil when no public patterns
	optional caddyhttp.MatchPath // nil when no optional patterns
	scopes   []scopeRule
	claims   []claimRule
}

// scopeRule is a compiled ScopeRule.
type scopeRule struct {
	match  caddyhttp.MatchPath
	scopes []string   // deduplicated
	sets   [][]string // {scopes}, shared by Requirements of this rule alone
}

// claimRule is a compiled ClaimRule.
type claimRule struct {
	match caddyhttp.MatchPath
	self  []ClaimRule // the rule as a one-element slice, shared
}

// Requirement is what a request needs, as found by Evaluate.
type Requirement struct {
	// Public is true when a public pattern matched and no scope or claim
	// rule did: no identity is needed.
	Public bool
	// Optional is true when an optional pattern matched and neither a
	// scope or claim rule nor a public pattern did: a valid credential
	// gives the identity, none (or an ended session) passes anonymously.
	Optional bool
	// Scopes is the union of the scopes of every matching scope rule, in
	// rule order and without duplicates. Do not modify: it may be shared.
	Scopes []string
	// Claims are the matching claim rules. Do not modify: it may be shared.
	Claims []ClaimRule

	// sets holds the scopes of each matching scope rule, so that a denial
	// can name the scopes of the rules that failed.
	sets [][]string
}

// emptyReplacer stands in for the request replacer when Evaluate is called
// outside Caddy: caddyhttp.MatchPath needs one in the request context. It is
// never used to replace anything, since patterns with placeholders are
// refused.
var emptyReplacer = caddy.NewEmptyReplacer()

// New validates cfg and compiles it.
func New(cfg Config) (*Policy, error) {
	// MatchPath.Provision only lower-cases the patterns today; give it a real
	// context, cancelled when done, so that it keeps working if it ever uses one.
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	p := &Policy{}
	var err error
	if len(cfg.Public) > 0 {
		if p.public, err = compile(ctx, "public "+strings.Join(cfg.Public, " "), cfg.Public); err != nil {
			return nil, err
		}
	}
	if len(cfg.Optional) > 0 {
		if p.optional, err = compile(ctx, "optional "+strings.Join(cfg.Optional, " "), cfg.Optional); err != nil {
			return nil, err
		}
	}
	for _, r := range cfg.Scopes {
		name := "scope " + strings.Join(r.Paths, " ")
		if len(r.Paths) == 0 {
			return nil, fmt.Errorf("scope rule for %q: needs at least one path, such as /admin/* (or * for every path)", strings.Join(r.Scopes, " "))
		}
		m, err := compile(ctx, name, withBases(r.Paths))
		if err != nil {
			return nil, err
		}
		var scopes []string
		for _, s := range r.Scopes {
			if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
				return nil, fmt.Errorf("%s: scope %q is not a valid scope token (no spaces, quotes or backslashes)", name, s)
			}
			// `scope /admin /admin/* profile` reads as one path and two
			// scopes, so /admin/x would need only a login: a "scope" that
			// is a path pattern is that mistake.
			if strings.HasPrefix(s, "/") && strings.Contains(s, "*") {
				return nil, fmt.Errorf("%s: scope %q looks like a path pattern; a scope rule takes one path (and /admin/* covers /admin too): write one `scope` line per path", name, s)
			}
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		if len(scopes) == 0 {
			return nil, fmt.Errorf("%s: needs at least one scope, e.g. scope %s profile", name, strings.Join(r.Paths, " "))
		}
		p.scopes = append(p.scopes, scopeRule{match: m, scopes: scopes, sets: [][]string{scopes}})
	}
	for _, r := range cfg.Claims {
		name := "claim " + strings.Join(r.Paths, " ")
		if len(r.Paths) == 0 {
			return nil, fmt.Errorf("claim rule for %q: needs at least one path, such as /billing/* (or * for every path)", r.Claim)
		}
		m, err := compile(ctx, name, withBases(r.Paths))
		if err != nil {
			return nil, err
		}
		if r.Claim == "" {
			return nil, fmt.Errorf("%s: needs a claim name, e.g. claim %s type account", name, strings.Join(r.Paths, " "))
		}
		if err := identity.ValidClaimPath(r.Claim); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		cm, err := compileClaimRule(r)
		if err != nil {
			return nil, fmt.Errorf("%s %v", name, err) // err starts with the claim
		}
		rule := ClaimRule{Paths: slices.Clone(r.Paths), Claim: r.Claim, Values: slices.Clone(r.Values), AllowUnverifiedEmail: r.AllowUnverifiedEmail, match: cm}
		p.claims = append(p.claims, claimRule{match: m, self: []ClaimRule{rule}})
	}
	return p, nil
}

// withBases adds, for every pattern "/prefix/*" of an access rule, the
// prefix itself: `scope /dns/* …` also covers /dns (and /dns;x, /DNS), which
// many upstreams serve with the same handler as /dns/ (Express routers,
// Spring's trailing-slash match), so a rule meant for a prefix protects it
// whole. Public patterns are not widened: that would open a path.
func withBases(patterns []string) []string {
	out := slices.Clone(patterns)
	for _, pat := range patterns {
		if base, ok := strings.CutSuffix(pat, "/*"); ok && base != "" && !slices.Contains(out, base) {
			out = append(out, base)
		}
	}
	return out
}

// compile validates patterns and builds a provisioned Caddy path matcher from
// a copy of them (Provision rewrites the slice it is given). name names the
// rule in errors.
func compile(ctx caddy.Context, name string, patterns []string) (caddyhttp.MatchPath, error) {
	for _, pat := range patterns {
		switch {
		case pat == "":
			return nil, fmt.Errorf("%s: empty path pattern; write a path such as /healthz or /static/*", name)
		case pat[0] != '/' && pat[0] != '*':
			return nil, fmt.Errorf("%s: path pattern %q must start with / or *, e.g. /%s", name, pat, pat)
		case strings.ContainsAny(pat, "{}"):
			return nil, fmt.Errorf("%s: path pattern %q has a placeholder; access rules take literal paths only", name, pat)
		}
	}
	m := caddyhttp.MatchPath(slices.Clone(patterns))
	if err := m.Provision(ctx); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return m, nil
}

// Evaluate finds what r needs: it must satisfy every scope and claim rule
// whose path matches, and it is public only when a public pattern matches and
// no scope or claim rule does; optional likewise, when an optional pattern
// matches and neither a rule nor a public pattern does. Paths are compared as Caddy's path matcher
// compares them (cleaned, case-insensitive, escapes as Caddy handles them).
//
// It does not allocate when at most one scope rule and at most one claim rule
// match (and r carries Caddy's replacer, as requests inside Caddy do).
func (p *Policy) Evaluate(r *http.Request) Requirement {
	if _, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); !ok {
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, emptyReplacer))
	}
	// Servlet-style backends drop ";params" from path segments, so
	// /admin;x/users reaches their /admin/users. Rules also see that reading.
	alt := withoutPathParams(r)
	var q Requirement
	for i := range p.scopes {
		rule := &p.scopes[i]
		if !matchEither(rule.match, r, alt) {
			continue
		}
		if q.sets == nil {
			q.Scopes, q.sets = rule.scopes, rule.sets
			continue
		}
		if len(q.sets) == 1 { // second match: stop sharing the rule's slices
			q.Scopes = slices.Clone(q.Scopes)
			q.sets = [][]string{q.sets[0]}
		}
		q.sets = append(q.sets, rule.scopes)
		for _, s := range rule.scopes {
			if !slices.Contains(q.Scopes, s) {
				q.Scopes = append(q.Scopes, s)
			}
		}
	}
	for i := range p.claims {
		rule := &p.claims[i]
		if !matchEither(rule.match, r, alt) {
			continue
		}
		if q.Claims == nil {
			q.Claims = rule.self
			continue
		}
		if len(q.Claims) == 1 {
			q.Claims = slices.Clone(q.Claims)
		}
		q.Claims = append(q.Claims, rule.self[0])
	}
	if q.Scopes == nil && q.Claims == nil {
		q.Public = p.public != nil && p.public.Match(r)
		q.Optional = !q.Public && p.optional != nil && p.optional.Match(r)
	}
	return q
}

// matchEither reports whether m matches r or, when given, its variant alt.
func matchEither(m caddyhttp.MatchPath, r, alt *http.Request) bool {
	return m.Match(r) || (alt != nil && m.Match(alt))
}

// withoutPathParams returns a shallow copy of r whose path has every
// ";param" segment suffix removed, or nil when the path has none.
func withoutPathParams(r *http.Request) *http.Request {
	if !strings.Contains(r.URL.Path, ";") {
		return nil
	}
	segs := strings.Split(r.URL.Path, "/")
	for i, seg := range segs {
		if j := strings.IndexByte(seg, ';'); j >= 0 {
			segs[i] = seg[:j]
		}
	}
	u := *r.URL
	u.Path, u.RawPath = strings.Join(segs, "/"), ""
	alt := *r
	alt.URL = &u
	return &alt
}
