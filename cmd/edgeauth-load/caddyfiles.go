package main

import (
	"bytes"
	"text/template"
)

// Setups: each runs in its own Caddy process. Bare Caddy serves every
// scenario; the edgeauth setups differ by what the scenario needs wired.
const (
	setupBare   = "bare"
	setupBearer = "edgeauth"
	setupLogin  = "edgeauth-login"
	setupSTS    = "edgeauth-sts"
	setupFleet  = "edgeauth-fleet" // the login setup with sessions in Redis
	// setupFleet2 and setupFleet3 are two more processes of the fleet setup
	// (same Caddyfile, same Redis, same session secret): scenario 7 spreads
	// its connections over the three.
	setupFleet2 = "edgeauth-fleet-2"
	setupFleet3 = "edgeauth-fleet-3"
)

// fleetSetups are the processes of scenario 7's fleet, in order.
var fleetSetups = []string{setupFleet, setupFleet2, setupFleet3}

// allSetups lists the setups in the order they start and are reported.
var allSetups = []string{setupBare, setupBearer, setupLogin, setupSTS, setupFleet, setupFleet2, setupFleet3, setupAssertion}

// caddyConfig fills the Caddyfile template.
type caddyConfig struct {
	Setup, Admin, Addr, Upstream string
	Issuer, ClientID, Secret     string
	CAFile, SessionKey           string
	STSEndpoint, OIDCProviderARN string
	RoleARN, LoginHint           string
	RedisAddr                    string // setupFleet's Redis host:port
	StorageDir                   string // setupAssertion's key storage
}

// caddyfileTemplate is the Caddyfile of every setup: loopback only, no
// automatic HTTPS, no persisted config, only errors logged, an admin
// endpoint on loopback (for pprof) and reverse_proxy to the same upstream.
var caddyfileTemplate = template.Must(template.New("Caddyfile").Parse(`{
	admin {{.Admin}}
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	log {
		level ERROR
	}
{{- if eq .Setup "edgeauth-assertion"}}
	storage file_system {{.StorageDir}}
{{- end}}
{{- if ne .Setup "bare"}}
	edgeauth {
		provider demo {
			issuer {{.Issuer}}
			client_id {{.ClientID}}
{{- if or (eq .Setup "edgeauth-login") (eq .Setup "edgeauth-fleet")}}
			client_secret {{.Secret}}
			scopes openid aliuid profile email
{{- end}}
			tls_ca {{.CAFile}}
		}
{{- if eq .Setup "edgeauth-login"}}
		session {
			secret {{.SessionKey}}
		}
{{- else if eq .Setup "edgeauth-fleet"}}
		session {
			secret {{.SessionKey}}
			store redis {
				address {{.RedisAddr}}
				key_prefix edgeauth-load:
			}
		}
{{- end}}
{{- if eq .Setup "edgeauth-sts"}}
		sts alibaba {
			type alibaba
			endpoint {{.STSEndpoint}}
			oidc_provider_arn {{.OIDCProviderARN}}
			role_arn {{.RoleARN}}
		}
{{- end}}
{{- if eq .Setup "edgeauth-assertion"}}
		assertion {
			issuer https://gateway.edgeauth-load.test
		}
{{- end}}
	}
{{- end}}
}

http://{{.Addr}} {
{{- if eq .Setup "edgeauth"}}
	edgeauth demo
{{- else if or (eq .Setup "edgeauth-login") (eq .Setup "edgeauth-fleet")}}
	edgeauth demo {
		login /oauth2/ {
			param login_hint {{.LoginHint}}
		}
	}
{{- else if eq .Setup "edgeauth-sts"}}
	edgeauth demo {
		sts alibaba
	}
{{- else if eq .Setup "edgeauth-assertion"}}
	edgeauth demo {
		assertion
	}
{{- end}}
	reverse_proxy {{.Upstream}}
}
`))

// caddyfile renders the Caddyfile of cfg.Setup.
func caddyfile(cfg caddyConfig) (string, error) {
	var b bytes.Buffer
	if err := caddyfileTemplate.Execute(&b, cfg); err != nil {
		return "", err
	}
	return b.String(), nil
}
