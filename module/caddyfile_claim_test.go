package edgeauth

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

func TestClaimRuleUnmarshalCaddyfile(t *testing.T) {
	d := caddyfile.NewTestDispenser(`edgeauth {
		claim /wiki/* email *@example.com *@*.example.com
		claim /legacy/* email *@legacy.example {
			allow_unverified_email
		}
		claim /ops/* groups ops-* "Domain Admins" DOMAIN\\Ops
	}`)
	var h Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := []policy.ClaimRule{
		{Paths: []string{"/wiki/*"}, Claim: "email", Values: []string{"*@example.com", "*@*.example.com"}},
		{Paths: []string{"/legacy/*"}, Claim: "email", Values: []string{"*@legacy.example"}, AllowUnverifiedEmail: true},
		{Paths: []string{"/ops/*"}, Claim: "groups", Values: []string{"ops-*", "Domain Admins", `DOMAIN\\Ops`}},
	}
	if !reflect.DeepEqual(h.Claims, want) {
		t.Errorf("got %+v\nwant %+v", h.Claims, want)
	}
}

// TestClaimRuleCaddyfileErrors: a bad pattern or option is refused at its
// line, naming the rule and the fix.
func TestClaimRuleCaddyfileErrors(t *testing.T) {
	for src, want := range map[string]string{
		"edgeauth {\n\tclaim /wiki/* email example.com\n}":                                     "claim /wiki/* email: `example.com` is not an e-mail pattern: it needs an @, e.g. *@example.com for every address at that domain, at Testfile:2",
		"edgeauth {\n\tclaim /x groups DOMAIN\\Admins\n}":                                      "claim /x groups: `DOMAIN\\Admins`: a backslash escapes only *, ? or another backslash (position 7); write \\\\ for a literal backslash, at Testfile:2",
		"edgeauth {\n\tclaim /x upn *@example.com {\n\t\tallow_unverified_email\n\t}\n}":       "claim /x upn: allow_unverified_email applies only to rules on the email claim; remove it, at Testfile:3",
		"edgeauth {\n\tclaim /x email *@example.com {\n\t\tallow_unverified_email yes\n\t}\n}": "claim allow_unverified_email: takes no value",
		"edgeauth {\n\tclaim /x email *@example.com {\n\t\tverified off\n\t}\n}":               `claim: unknown option "verified" (expected allow_unverified_email)`,
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\nerror %v\nwant one containing %q", src, err, want)
		}
	}
}
