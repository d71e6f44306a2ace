package policy

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// allowListConfig is an oauth2-proxy style allow-list: staff by domain on
// /wiki, one partner address, a domain whose provider never states
// email_verified, and groups by pattern.
var allowListConfig = Config{Claims: []ClaimRule{
	{Paths: []string{"/wiki/*"}, Claim: "email", Values: []string{"*@example.com", "*@*.example.com", "Partner@Other.org"}},
	{Paths: []string{"/legacy/*"}, Claim: "email", Values: []string{"*@legacy.example"}, AllowUnverifiedEmail: true},
	{Paths: []string{"/ops/*"}, Claim: "groups", Values: []string{"ops-*", "admins"}},
}}

func TestAuthorizeEmailRules(t *testing.T) {
	p := mustNew(t, allowListConfig)
	tests := []struct {
		name, target, claims string
		outcome              Outcome
		detail               string
	}{
		{"domain, verified", "/wiki/x", `{"email":"a@example.com","email_verified":true}`, Allow, ""},
		{"domain, upper case", "/wiki/x", `{"email":"A@EXAMPLE.COM","email_verified":true}`, Allow, ""},
		{"domain, string true", "/wiki/x", `{"email":"a@example.com","email_verified":"true"}`, Allow, ""},
		{"subdomain pattern", "/wiki/x", `{"email":"a@eu.example.com","email_verified":true}`, Allow, ""},
		{"exact address, other case", "/wiki/x", `{"email":"partner@other.org","email_verified":true}`, Allow, ""},
		{"other address at the partner", "/wiki/x", `{"email":"boss@other.org","email_verified":true}`, AccessDenied, ""},
		{"unverified", "/wiki/x", `{"email":"a@example.com","email_verified":false}`, AccessDenied, DetailEmailUnverified},
		{"verification absent", "/wiki/x", `{"email":"a@example.com"}`, AccessDenied, DetailEmailUnverified},
		{"verified as a string false", "/wiki/x", `{"email":"a@example.com","email_verified":"false"}`, AccessDenied, DetailEmailUnverified},
		{"verified as a number", "/wiki/x", `{"email":"a@example.com","email_verified":1}`, AccessDenied, DetailEmailUnverified},
		{"other domain", "/wiki/x", `{"email":"a@evil.com","email_verified":true}`, AccessDenied, ""},
		{"second @", "/wiki/x", `{"email":"a@example.com@evil.com","email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"NUL-joined", "/wiki/x", `{"email":"a@evil.com\u0000@example.com","email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"trailing dot", "/wiki/x", `{"email":"a@example.com.","email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"look-alike domain", "/wiki/x", `{"email":"a@ex\u0430mple.com","email_verified":true}`, AccessDenied, ""},
		{"array of addresses", "/wiki/x", `{"email":["a@example.com"],"email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"number", "/wiki/x", `{"email":42,"email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"object", "/wiki/x", `{"email":{"a":"a@example.com"},"email_verified":true}`, AccessDenied, DetailEmailMalformed},
		{"absent", "/wiki/x", `{"email_verified":true}`, AccessDenied, ""},
		{"unverified allowed by the rule", "/legacy/x", `{"email":"a@legacy.example"}`, Allow, ""},
		{"unverified allowed, still the domain", "/legacy/x", `{"email":"a@example.com"}`, AccessDenied, ""},
		{"group pattern", "/ops/x", `{"groups":["dev","ops-eu"]}`, Allow, ""},
		{"group exact", "/ops/x", `{"groups":["admins"]}`, Allow, ""},
		{"group as a string", "/ops/x", `{"groups":"admins"}`, Allow, ""},
		{"groups joined in one string", "/ops/x", `{"groups":"dev admins"}`, AccessDenied, ""},
		{"group case differs", "/ops/x", `{"groups":["Admins","OPS-eu"]}`, AccessDenied, ""},
	}
	for _, tt := range tests {
		q := p.Evaluate(withReplacer(httptest.NewRequest("GET", tt.target, nil)))
		d := q.Authorize(caller(t, nil, tt.claims))
		if d.Outcome != tt.outcome || d.Detail != tt.detail {
			t.Errorf("%s: got %v detail %q (%s); want %v detail %q", tt.name, d.Outcome, d.Detail, d.Reason, tt.outcome, tt.detail)
		}
		if strings.Contains(d.Reason, "evil") || strings.Contains(d.Reason, "a@") {
			t.Errorf("%s: reason holds the caller's claim: %q", tt.name, d.Reason)
		}
	}
	// The reason says what the rule wanted, and why an address that matched
	// was still refused.
	q := p.Evaluate(withReplacer(httptest.NewRequest("GET", "/wiki/x", nil)))
	if d := q.Authorize(caller(t, nil, `{"email":"a@example.com"}`)); !strings.Contains(d.Reason, "email_verified") {
		t.Errorf("unverified reason %q does not name email_verified", d.Reason)
	}
}

// TestAuthorizeHandBuiltClaimRule: a Requirement built without New (as tests
// and tools do) still applies patterns and the e-mail checks.
func TestAuthorizeHandBuiltClaimRule(t *testing.T) {
	q := Requirement{Claims: []ClaimRule{{Claim: "email", Values: []string{"*@example.com"}}}}
	if d := q.Authorize(caller(t, nil, `{"email":"a@example.com"}`)); d.Outcome != AccessDenied || d.Detail != DetailEmailUnverified {
		t.Errorf("hand-built e-mail rule: %v %q", d.Outcome, d.Detail)
	}
	if d := q.Authorize(caller(t, nil, `{"email":"a@example.com","email_verified":true}`)); d.Outcome != Allow {
		t.Errorf("hand-built e-mail rule refused a verified address: %s", d.Reason)
	}
	bad := Requirement{Claims: []ClaimRule{{Claim: "type", Values: []string{`a\`}}}}
	if d := bad.Authorize(caller(t, nil, `{"type":"a\\"}`)); d.Outcome != AccessDenied {
		t.Error("a rule that does not compile was satisfied")
	}
}

func TestNewClaimRuleErrors(t *testing.T) {
	for _, tt := range []struct {
		rule ClaimRule
		want string
	}{
		{ClaimRule{Paths: []string{"/x"}, Claim: "email", Values: []string{"example.com"}}, "claim /x email: `example.com` is not an e-mail pattern: it needs an @, e.g. *@example.com"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "email", Values: []string{"*@example.com", "a@b@c"}}, "more than one @"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "email", Values: []string{"*@example.com."}}, "ends with a dot"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "groups", Values: []string{`DOMAIN\Admins`}}, "claim /x groups: `DOMAIN\\Admins`: a backslash escapes only *, ? or another backslash (position 7); write \\\\ for a literal backslash"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "groups", Values: []string{`admins\`}}, "lone backslash"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "groups", Values: []string{""}}, "claim /x groups: an empty value never matches; remove it"},
		{ClaimRule{Paths: []string{"/x"}, Claim: "upn", Values: []string{"*@example.com"}, AllowUnverifiedEmail: true}, "allow_unverified_email applies only to rules on the email claim"},
	} {
		_, err := New(Config{Claims: []ClaimRule{tt.rule}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) error %v, want one containing %q", tt.rule, err, tt.want)
		}
		if err := CheckClaimRule(tt.rule); err == nil {
			t.Errorf("CheckClaimRule(%+v) accepted what New refuses", tt.rule)
		}
	}
	if err := CheckClaimRule(allowListConfig.Claims[0]); err != nil {
		t.Errorf("CheckClaimRule refused a good rule: %v", err)
	}
}
