package policy

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

func caller(t *testing.T, scopes []string, claimsJSON string) *identity.Identity {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(claimsJSON))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return &identity.Identity{Subject: "1234", Scopes: scopes, Claims: claims}
}

func TestAuthorize(t *testing.T) {
	p := mustNew(t, testConfig)
	secret := "eyJhbGciOi.secret-token.sig"
	tests := []struct {
		name    string
		target  string
		id      *identity.Identity
		outcome Outcome
		scopes  string
		reason  string
	}{
		{"public, no identity", "/static/x", nil, Allow, "", "public"},
		{"protected, no identity", "/dns/x", nil, Unauthenticated, "", "no identity"},
		{"scope granted", "/dns/x", caller(t, []string{"openid", "/acs/alidns"}, `{}`), Allow, "", ""},
		{"scope missing", "/dns/x", caller(t, []string{"openid"}, `{}`), InsufficientScope, "/acs/alidns", "missing scope /acs/alidns"},
		{"two of two missing", "/admin/x", caller(t, nil, `{}`), InsufficientScope, "profile aliuid", "missing scope profile aliuid"},
		{"one of two missing", "/admin/x", caller(t, []string{"aliuid"}, `{}`), InsufficientScope, "profile aliuid", "missing scope profile"},
		// Two scope rules match; only the failing rule's scopes are named.
		{"only failed rule named", "/admin/reports/q1", caller(t, []string{"profile", "aliuid"}, `{"groups":["admins"]}`), InsufficientScope, "reports aliuid", "missing scope reports"},
		{"scopes before claims", "/admin/reports/q1", caller(t, []string{"profile"}, `{"groups":"nobody"}`), InsufficientScope, "profile aliuid reports", "missing scope aliuid reports"},
		{"array claim element", "/admin/reports/q1", caller(t, []string{"profile", "aliuid", "reports"}, `{"groups":["dev","auditors"]}`), Allow, "", ""},
		{"array claim no element", "/admin/reports/q1", caller(t, []string{"profile", "aliuid", "reports"}, `{"groups":["dev","ops"]}`), AccessDenied, "", "claim groups not in [auditors admins]"},
		{"scalar claim", "/billing/x", caller(t, nil, `{"type":"account"}`), Allow, "", ""},
		{"scalar claim wrong", "/billing/x", caller(t, nil, `{"type":"`+secret+`"}`), AccessDenied, "", "claim type not in [account]"},
		{"claim absent", "/billing/x", caller(t, nil, `{}`), AccessDenied, "", "claim type not in [account]"},
		{"claim is object", "/billing/x", caller(t, nil, `{"type":{"account":true}}`), AccessDenied, "", "claim type not in [account]"},
		{"public path with identity", "/", caller(t, nil, `{}`), Allow, "", "public"},
	}
	for _, tt := range tests {
		q := p.Evaluate(withReplacer(httptest.NewRequest("GET", tt.target, nil)))
		d := q.Authorize(tt.id)
		if d.Outcome != tt.outcome || strings.Join(d.Scopes, " ") != tt.scopes || d.Reason != tt.reason {
			t.Errorf("%s: got %v %q %q; want %v %q %q", tt.name, d.Outcome, d.Scopes, d.Reason, tt.outcome, tt.scopes, tt.reason)
		}
		if strings.Contains(d.Reason, secret) {
			t.Errorf("%s: reason leaks token data: %q", tt.name, d.Reason)
		}
	}
}

func TestAuthorizeNestedClaimAndNumbers(t *testing.T) {
	p := mustNew(t, Config{Claims: []ClaimRule{
		{Paths: []string{"/cn/*"}, Claim: "address.country", Values: []string{"CN"}},
		{Paths: []string{"/acct/*"}, Claim: "aid", Values: []string{"1000000000000000001"}},
	}})
	id := caller(t, nil, `{"address":{"country":"CN"},"aid":1000000000000000001}`)
	for _, target := range []string{"/cn/x", "/acct/x"} {
		if d := p.Evaluate(withReplacer(httptest.NewRequest("GET", target, nil))).Authorize(id); d.Outcome != Allow {
			t.Errorf("%s: %v %s", target, d.Outcome, d.Reason)
		}
	}
	other := caller(t, nil, `{"address":{"country":"US"},"aid":1000000000000000002}`)
	for _, target := range []string{"/cn/x", "/acct/x"} {
		if d := p.Evaluate(withReplacer(httptest.NewRequest("GET", target, nil))).Authorize(other); d.Outcome != AccessDenied {
			t.Errorf("%s: %v %s, want access_denied", target, d.Outcome, d.Reason)
		}
	}
}

func TestAuthorizeHandBuiltRequirement(t *testing.T) {
	q := Requirement{Scopes: []string{"a", "b"}}
	d := q.Authorize(&identity.Identity{Scopes: []string{"a"}})
	if d.Outcome != InsufficientScope || strings.Join(d.Scopes, " ") != "a b" {
		t.Errorf("got %+v", d)
	}
	if d := (Requirement{}).Authorize(&identity.Identity{}); d.Outcome != Allow {
		t.Errorf("empty requirement: %+v", d)
	}
}

func TestOutcomeString(t *testing.T) {
	want := map[Outcome]string{Allow: "allow", Unauthenticated: "unauthenticated", InsufficientScope: "insufficient_scope", AccessDenied: "access_denied", Outcome(99): "unknown"}
	for o, s := range want {
		if o.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), s)
		}
	}
}
