package policy

import (
	"slices"
	"strings"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// Outcome is the result of authorizing an identity against a Requirement.
type Outcome int

const (
	// Allow lets the request through.
	Allow Outcome = iota
	// Unauthenticated means no identity was given for a route that is not
	// public (401; the caller should have caught this before).
	Unauthenticated
	// InsufficientScope means a scope rule failed (403 insufficient_scope).
	InsufficientScope
	// AccessDenied means a claim rule failed (403 access_denied).
	AccessDenied
)

// String returns the outcome as a short lower-case word for logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Allow:
		return "allow"
	case Unauthenticated:
		return "unauthenticated"
	case InsufficientScope:
		return "insufficient_scope"
	case AccessDenied:
		return "access_denied"
	}
	return "unknown"
}

// Decision is the verdict on one request.
type Decision struct {
	// Outcome says whether and how the request is refused.
	Outcome Outcome
	// Scopes, for InsufficientScope, are the scopes of the rules that failed
	// (for WWW-Authenticate's scope="…").
	Scopes []string
	// Reason is a short explanation for logs; it names scopes and claim
	// names from the configuration, never token data.
	Reason string
	// Detail, for AccessDenied, is a fixed code when more is known than "no
	// value matched": DetailEmailUnverified or DetailEmailMalformed.
	Detail string
}

// Authorize decides whether id meets q. Scope rules are checked before claim
// rules. A public requirement allows anyone, even a nil identity, and an
// optional one a nil identity; otherwise a nil id gives Unauthenticated.
func (q Requirement) Authorize(id *identity.Identity) Decision {
	if q.Public {
		return Decision{Outcome: Allow, Reason: "public"}
	}
	if id == nil {
		if q.Optional {
			return Decision{Outcome: Allow, Reason: "optional, anonymous"}
		}
		return Decision{Outcome: Unauthenticated, Reason: "no identity"}
	}
	if len(q.Scopes) > 0 && !id.HasScopes(q.Scopes) {
		return Decision{Outcome: InsufficientScope, Scopes: q.failedScopes(id), Reason: "missing scope " + strings.Join(missing(id, q.Scopes), " ")}
	}
	for i := range q.Claims {
		c := &q.Claims[i]
		if ok, detail := c.satisfied(id.Claims); !ok {
			return Decision{Outcome: AccessDenied, Reason: c.denialReason(detail), Detail: detail}
		}
	}
	return Decision{Outcome: Allow}
}

// failedScopes returns the union of the scopes of every rule that id fails.
func (q Requirement) failedScopes(id *identity.Identity) []string {
	sets := q.sets
	if sets == nil { // a Requirement built by hand: treat Scopes as one rule
		return q.Scopes
	}
	if len(sets) == 1 {
		return sets[0]
	}
	var out []string
	for _, set := range sets {
		if id.HasScopes(set) {
			continue
		}
		for _, s := range set {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// missing lists the scopes in need that id lacks.
func missing(id *identity.Identity, need []string) []string {
	var out []string
	for _, s := range need {
		if !slices.Contains(id.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}
