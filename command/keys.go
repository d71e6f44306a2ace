package edgeauthcmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

func keysCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys --config <Caddyfile>",
		Short: "List the providers' current signing keys",
		Long: `Load the config without starting any server, fetch every provider's
discovery document and JWKS now (with the provider's tls_ca and
thumbprints) and list the usable signing keys: kid, alg, key type and
size, and RFC 7638 thumbprint, with the fetch time. With --admin, also
show the running gateway's copy of each provider's keys (how many, when
fetched, their age, the last error) from its admin endpoint, to see whether
it lags behind the provider. Exit status 1 when a provider's keys could not
be fetched.`,
		Args: cobra.NoArgs,
	}
	configFlags(cmd)
	cmd.Flags().String("admin", "", "Admin address of a running Caddy to compare with, e.g. localhost:2019")
	cmd.RunE = runE(runKeys)
	return cmd
}

func runKeys(cmd *cobra.Command, out io.Writer) (int, error) {
	l, err := load(cmd)
	if err != nil {
		return exitError, err
	}
	defer l.close()
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	var running map[string]runningProvider
	if addr, _ := cmd.Flags().GetString("admin"); addr != "" {
		if running, err = fetchRunning(ctx, addr); err != nil {
			return exitError, err
		}
	}
	status := exitOK
	for i, pk := range l.app.FetchKeys(ctx) {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "provider %s\n  issuer   %s\n", pk.Name, pk.Issuer)
		if pk.JWKSURI != "" {
			fmt.Fprintf(out, "  jwks_uri %s\n", pk.JWKSURI)
		}
		if running != nil {
			printRunning(out, running, pk.Name)
		}
		if pk.Err != nil {
			fmt.Fprintf(out, "  error    %v\n", pk.Err)
			status = exitError
			continue
		}
		if t := pk.Status.LastRefresh; !t.IsZero() {
			fmt.Fprintf(out, "  fetched  %s (age %s)\n", t.UTC().Format(time.RFC3339), pk.Status.KeyAge.Round(time.Second))
		}
		fmt.Fprintf(out, "  %-44s %-6s %-12s %s\n", "kid", "alg", "type", "thumbprint (RFC 7638, SHA-256)")
		for _, k := range pk.Keys {
			kid, alg := k.ID, k.Algorithm
			if kid == "" {
				kid = "(none)"
			}
			if alg == "" {
				alg = "(any)"
			}
			fmt.Fprintf(out, "  %-44s %-6s %-12s %s\n", printable(kid), printable(alg), k.KeyType(), k.Thumbprint())
		}
	}
	return status, nil
}

// printable is a key ID or algorithm name from the JWKS, without control
// bytes and cut to 64 bytes.
func printable(s string) string {
	s = identity.Sanitize(s)
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}
