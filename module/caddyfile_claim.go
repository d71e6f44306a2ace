package edgeauth

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/edgeauth/caddy-edgeauth/module/policy"
)

// unmarshalClaimRule reads `claim <path> <claim> <value>... [{ … }]`; the
// dispenser stands on `claim`. The rule is checked here (patterns, e-mail
// patterns, options), so a mistake is reported at its line; see
// Handler.UnmarshalCaddyfile for the syntax.
func unmarshalClaimRule(d *caddyfile.Dispenser) (policy.ClaimRule, error) {
	args := d.RemainingArgs()
	if len(args) < 3 {
		return policy.ClaimRule{}, d.Errf("claim: a path, a claim name and at least one value are required, e.g. `claim /billing/* type account`")
	}
	rule := policy.ClaimRule{Paths: args[:1], Claim: args[1], Values: args[2:]}
	if err := policy.CheckClaimRule(rule); err != nil {
		return policy.ClaimRule{}, d.Errf("claim %s %v", rule.Paths[0], err)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "allow_unverified_email":
			if err := flagOption(d, "claim allow_unverified_email"); err != nil {
				return policy.ClaimRule{}, err
			}
			rule.AllowUnverifiedEmail = true
			if err := policy.CheckClaimRule(rule); err != nil {
				return policy.ClaimRule{}, d.Errf("claim %s %v", rule.Paths[0], err)
			}
		default:
			return policy.ClaimRule{}, d.Errf("claim: unknown option %q (expected allow_unverified_email)", opt)
		}
	}
	return rule, nil
}
