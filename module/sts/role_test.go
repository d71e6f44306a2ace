package sts

import (
	"strings"
	"testing"
)

// Each exchanger checks roles in its own STS's form: Alibaba a RAM role
// ARN, AWS an IAM role ARN, RFC 8693 anything but a blank; the first two
// need a role for every exchange, token exchange does not.
func TestExchangersOwnTheirRoleRules(t *testing.T) {
	alibaba, err := NewAlibaba(AlibabaConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	aws, err := NewAWS(AWSConfig{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	exchange, err := NewTokenExchange(TokenExchangeConfig{TokenEndpoint: "http://127.0.0.1:1/token", ClientID: "gw"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		ram = "acs:ram::1000000000000000:role/reader"
		iam = "arn:aws:iam::111122223333:role/reader"
	)
	for _, c := range []struct {
		name      string
		x         Exchanger
		needsRole bool
		good, bad []string
		fix       string // in every refusal
	}{
		{"alibaba", alibaba, true, []string{ram}, []string{iam, "", " ", "acs:ram::1000000000000000:oidc-provider/idp"}, "write it as acs:ram::"},
		{"aws", aws, true, []string{iam}, []string{ram, "", " "}, "write it as arn:aws:iam::"},
		{"token_exchange", exchange, false, []string{ram, iam, "reader"}, []string{"", " ", "\t"}, "give the role to assume"},
	} {
		if got := c.x.NeedsRole(); got != c.needsRole {
			t.Errorf("%s: NeedsRole %v, want %v", c.name, got, c.needsRole)
		}
		for _, arn := range c.good {
			if err := c.x.ValidateRole(arn); err != nil {
				t.Errorf("%s: %q refused: %v", c.name, arn, err)
			}
		}
		for _, arn := range c.bad {
			err := c.x.ValidateRole(arn)
			switch {
			case err == nil:
				t.Errorf("%s: %q accepted", c.name, arn)
			case !strings.HasPrefix(err.Error(), "role_arn ") || !strings.Contains(err.Error(), c.fix):
				t.Errorf("%s: %q: error %q does not name role_arn and %q", c.name, arn, err, c.fix)
			}
		}
	}
}
