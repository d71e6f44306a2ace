package edgeauthcmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	edgeauth "github.com/edgeauth/caddy-edgeauth/module"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// fetchTimeout bounds the discovery and JWKS fetches of a command.
const fetchTimeout = 30 * time.Second

func explainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain --config <Caddyfile> --token - [--path /x] [--method GET] [--host h]",
		Short: "Explain why a token is accepted or refused on a path",
		Long: `Load the config without starting any server, fetch the providers' keys,
find the edgeauth handler(s) that a request for --host and --path reaches,
and show every check on the token (provider by iss, size, format and
duplicate members, alg, typ, key, signature, exp, iss, aud, nbf, iat,
max_token_age), the scope and claim rules of the path and whether they
pass, and the identity headers the upstream would get.

The token is never printed. Give it on stdin with --token - (the default),
so that it stays out of shell history:

    pbpaste | caddy edgeauth explain --config Caddyfile --path /admin

Exit status: 0 when the request would reach the upstream, 2 when edgeauth
would refuse it, 1 when the command itself failed.`,
		Args: cobra.NoArgs,
	}
	configFlags(cmd)
	cmd.Flags().StringP("token", "t", "-", "The bearer token, or - to read it from stdin")
	cmd.Flags().String("path", "/", "The request path (and query)")
	cmd.Flags().String("method", http.MethodGet, "The request method")
	cmd.Flags().String("host", "", "The request host, as the site address names it; add a port to pick the server listening on it (default: none, which only sites without a host name match)")
	cmd.RunE = runE(runExplain)
	return cmd
}

func runExplain(cmd *cobra.Command, out io.Writer) (int, error) {
	flags := cmd.Flags()
	tokenFlag, _ := flags.GetString("token")
	path, _ := flags.GetString("path")
	method, _ := flags.GetString("method")
	host, _ := flags.GetString("host")
	raw, err := readToken(tokenFlag, cmd.InOrStdin())
	if err != nil {
		return exitError, err
	}
	if !strings.HasPrefix(path, "/") {
		return exitError, fmt.Errorf("--path %q: give an absolute path such as /admin", path)
	}
	l, err := load(cmd)
	if err != nil {
		return exitError, err
	}
	defer l.close()

	target := "http://" + host + path
	if host == "" {
		target = "http://localhost" + path
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return exitError, fmt.Errorf("--host/--path: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return exitError, fmt.Errorf("--method: %v", err)
	}
	if host == "" {
		r.Host = ""
	}

	// Claim values, key errors and rule texts reach the terminal: no bidi
	// control may reorder a line there.
	out = terminalSafe(out)
	routes, err := findHandlers(l.ctx, r)
	if err != nil {
		return exitError, err
	}
	if len(routes) == 0 {
		return exitError, fmt.Errorf("no edgeauth handler serves %s %s%s: check --host (with a port to pick a server) and --path", method, hostOr(host), path)
	}
	keys := l.app.FetchKeys(ctx)
	fmt.Fprintf(out, "%s %s%s\n", method, hostOr(host), path)
	for _, pk := range keys {
		if pk.Err != nil {
			fmt.Fprintf(out, "provider %s: keys could not be fetched: %v\n", pk.Name, pk.Err)
		}
	}
	status := exitOK
	for i, rt := range routes {
		fmt.Fprintf(out, "\nhandler %d of %d (server %s, path as the handler sees it: %s)\n", i+1, len(routes), rt.server, rt.req.URL.Path)
		e := rt.handler.Explain(ctx, rt.req, raw)
		printExplanation(out, e)
		if !e.Accepted() {
			status = exitRefused
			break // later handlers never see a refused request
		}
	}
	return status, nil
}

func hostOr(host string) string {
	if host == "" {
		return "(any host)"
	}
	return host
}

// printExplanation writes one handler's explanation, bidi controls
// escaped (see terminalSafe).
func printExplanation(out io.Writer, e *edgeauth.Explanation) {
	out = terminalSafe(out)
	if e.PathError != "" {
		fmt.Fprintf(out, "  refused: 400 invalid_request: %s\n", e.PathError)
		return
	}
	if e.Token.Provider != "" {
		fmt.Fprintf(out, "provider %s\n", e.Token.Provider)
	}
	fmt.Fprintln(out, "token checks:")
	for _, c := range e.Token.Checks {
		fmt.Fprintf(out, "  %-5s %-14s %s\n", mark(c), c.Name, c.Detail)
	}
	switch {
	case e.Token.Identity != nil:
		printClaims(out, "claims (verified):", e.Token.Identity.Claims)
	case e.Token.Claims != nil:
		printClaims(out, "claims (NOT verified, as the token states them):", e.Token.Claims)
	}
	switch {
	case e.Public:
		fmt.Fprintln(out, "rules: the path is public (no identity needed; no identity headers are set)")
	case e.Optional:
		fmt.Fprintln(out, "rules: the path is optional (a valid token gives the identity, an invalid one is refused; without any credential the request would pass anonymously)")
	case len(e.Rules) == 0:
		fmt.Fprintln(out, "rules: none beyond a valid token")
	default:
		if e.Token.Identity == nil {
			fmt.Fprintln(out, "rules (not reached: the token is refused first):")
		} else {
			fmt.Fprintln(out, "rules:")
		}
		for _, rc := range e.Rules {
			m := "ok"
			switch {
			case e.Token.Identity == nil:
				m = "-"
			case !rc.OK:
				m = "FAIL"
			}
			fmt.Fprintf(out, "  %-5s %s\n", m, rc.Rule)
		}
	}
	if e.Accepted() && len(e.Headers) > 0 {
		fmt.Fprintln(out, "headers to the upstream (besides the request's own, client-sent X-Auth-* removed):")
		names := make([]string, 0, len(e.Headers))
		for name := range e.Headers {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, v := range e.Headers[name] {
				fmt.Fprintf(out, "  %s: %s\n", name, v)
			}
		}
		if e.STS != "" {
			fmt.Fprintf(out, "  (and the temporary credentials of STS %s, not requested by explain)\n", e.STS)
		}
	}
	fmt.Fprintln(out, "verdict: "+verdict(e))
}

// printClaims lists the verified claims that export as strings, sanitized
// as identity headers are; token material is never shown.
func printClaims(out io.Writer, title string, claims map[string]any) {
	names := make([]string, 0, len(claims))
	for name := range claims {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(out, title)
	for _, name := range names {
		v, ok := identity.ClaimValue(claims, name)
		if !ok {
			continue
		}
		if len(v) > 120 {
			v = strings.ToValidUTF8(v[:120], "") + "…"
		}
		fmt.Fprintf(out, "  %s: %s\n", identity.Sanitize(name), v)
	}
}

func mark(c token.Check) string {
	switch {
	case c.OK:
		return "ok"
	case c.Skipped:
		return "skip"
	}
	return "FAIL"
}

// verdict is the handler's answer in one line.
func verdict(e *edgeauth.Explanation) string {
	switch e.Status {
	case 0:
		return "accepted: the request goes on to the upstream"
	case http.StatusServiceUnavailable:
		return "refused: 503 temporarily_unavailable (" + e.Token.Err.Error() + ")"
	case http.StatusUnauthorized:
		return "refused: 401 invalid_token (" + e.Token.Err.Error() + ")"
	case http.StatusForbidden:
		return "refused: 403 (" + e.Decision.Outcome.String() + ": " + e.Decision.Reason + ")"
	}
	return fmt.Sprintf("refused: %d", e.Status)
}
