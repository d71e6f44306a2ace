package edgeauth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// Role ARNs are checked by each STS kind's own exchanger (sts.Exchanger's
// ValidateRole and NeedsRole), at load time, on the STS and on each route;
// the errors name role_arn (once) and the form to write.
func TestSTSRolesCheckedByTheirExchanger(t *testing.T) {
	const (
		ram         = "acs:ram::1000000000000000:role/reader"
		iam         = "arn:aws:iam::111122223333:role/reader"
		providerARN = "acs:ram::1000000000000000:oidc-provider/idp"
	)
	alibaba := func(role string) *STSConfig {
		return &STSConfig{Endpoint: "http://127.0.0.1:1", OIDCProviderARN: providerARN, RoleARN: role}
	}
	aws := func(role string) *STSConfig {
		return &STSConfig{Type: stsAWS, Endpoint: "http://127.0.0.1:1", RoleARN: role}
	}
	exchange := func(role string) *STSConfig {
		return &STSConfig{Type: stsTokenExchange, TokenEndpoint: "http://127.0.0.1:1/token", ClientID: "gw", RoleARN: role}
	}
	for _, c := range []struct {
		name string
		sts  *STSConfig
		use  *STSUse // nil: no route, the app alone
		want string  // "" = accepted, else a part of the error
	}{
		{"alibaba, RAM role", alibaba(ram), &STSUse{}, ""},
		{"alibaba, IAM role on the STS", alibaba(iam), nil, `role_arn "` + iam + `" is not a RAM role ARN; write it as acs:ram::`},
		{"alibaba, IAM role on the route", alibaba(""), &STSUse{RoleARN: iam}, `sts corp: role_arn "` + iam + `" is not a RAM role ARN; write it as`},
		{"alibaba, IAM role from a claim", alibaba(""), &STSUse{RoleFromClaims: []RoleFromClaim{{Claim: "groups", Value: "a", RoleARN: iam}}}, "role_from_claim groups=a: role_arn"},
		{"alibaba, no role", alibaba(""), &STSUse{}, "no role to assume; set role_arn"},
		{"aws, IAM role", aws(iam), &STSUse{}, ""},
		{"aws, RAM role on the STS", aws(ram), nil, `role_arn "` + ram + `" is not an IAM role ARN; write it as arn:aws:iam::`},
		{"aws, RAM role on the route", aws(""), &STSUse{RoleARN: ram}, "is not an IAM role ARN"},
		{"aws, no role", aws(""), &STSUse{}, "no role to assume"},
		{"token_exchange, no role", exchange(""), &STSUse{}, ""},
		{"token_exchange, any role", exchange(ram), &STSUse{RoleARN: iam}, ""},
		{"token_exchange, blank role on the STS", exchange(" "), nil, "role_arn is empty"},
		{"token_exchange, blank role from a claim", exchange(""), &STSUse{RoleFromClaims: []RoleFromClaim{{Claim: "groups", Value: "a", RoleARN: " "}}}, "role_arn is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.use != nil {
				c.use.Name = "corp"
			}
			err := provisionSTSRoute(t, c.sts, c.use)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not contain %q", err, c.want)
			case err != nil && strings.Contains(err.Error(), "role_arn: role_arn"):
				t.Errorf("error %q names role_arn twice", err)
			}
		})
	}
}

// provisionSTSRoute provisions a handler with one route STS use (none: only
// the app) in a Caddy
// context whose edgeauth app has the STS cfg as corp and one provider (no
// network I/O: provisioning fetches nothing). It returns the first error,
// the app's (the STS settings) or the handler's (the route's).
func provisionSTSRoute(t *testing.T, cfg *STSConfig, use *STSUse) error {
	t.Helper()
	appJSON, err := json.Marshal(App{
		Providers: map[string]*ProviderConfig{"idp": {Issuer: "https://idp.example.com", Audiences: []string{"api"}}},
		STS:       map[string]*STSConfig{"corp": cfg},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{"edgeauth": appJSON}})
	if err != nil {
		return err
	}
	t.Cleanup(func() {
		if app, err := ctx.AppIfConfigured("edgeauth"); err == nil {
			_ = app.(*App).Cleanup()
		}
	})
	if use == nil {
		_, err := ctx.App("edgeauth")
		return err
	}
	h := &Handler{STS: use}
	return h.Provision(ctx)
}
