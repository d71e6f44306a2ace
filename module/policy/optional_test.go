package policy

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOptionalPaths: an optional pattern gives Optional only where no scope
// or claim rule matches and no public pattern does (public wins); with no
// identity Authorize allows it, with one the rules (none) allow it too.
func TestOptionalPaths(t *testing.T) {
	p := mustNew(t, Config{
		Public:   []string{"/healthz", "/both/*"},
		Optional: []string{"*", "/both/*"},
		Scopes:   []ScopeRule{{Paths: []string{"/admin/*"}, Scopes: []string{"admin"}}},
		Claims:   []ClaimRule{{Paths: []string{"/billing/*"}, Claim: "type", Values: []string{"account"}}},
	})
	for target, want := range map[string]string{
		"/":          "optional",
		"/blog/post": "optional",
		"/healthz":   "public",
		"/both/x":    "public",
		"/admin":     "rules",
		"/admin/x":   "rules",
		"/ADMIN;x/y": "rules",
		"/billing/x": "rules",
	} {
		q := p.Evaluate(withReplacer(httptest.NewRequest("GET", target, nil)))
		got := "rules"
		switch {
		case q.Public && q.Optional:
			got = "both"
		case q.Public:
			got = "public"
		case q.Optional:
			got = "optional"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", target, got, want)
		}
		d := q.Authorize(nil)
		if (d.Outcome == Allow) != (want != "rules") {
			t.Errorf("%s: anonymous outcome %s", target, d.Outcome)
		}
	}
	if _, err := New(Config{Optional: []string{"blog/*"}}); err == nil || !strings.Contains(err.Error(), `optional blog/*: path pattern "blog/*" must start with / or *`) {
		t.Errorf("bad optional pattern: %v", err)
	}
	if q := mustNew(t, Config{}).Evaluate(withReplacer(httptest.NewRequest("GET", "/", nil))); q.Optional || q.Public {
		t.Errorf("no patterns: %+v", q)
	}
}
