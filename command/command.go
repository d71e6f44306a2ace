// Package edgeauthcmd adds the `caddy edgeauth` command to Caddy builds
// that include the plugin: `secret` prints a fresh session secret, `keys`
// lists the providers' current signing keys and `explain` says why a
// token is accepted or refused on a path. The root package imports it, so
// xcaddy builds get it.
package edgeauthcmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "edgeauth",
		Short: "edgeauth tools: session secrets, provider keys, why a token is refused",
		Long: `
Tools for operators of the edgeauth plugin:

  caddy edgeauth secret
      print a fresh session secret for ` + "`session { secret … }`" + `

  caddy edgeauth keys --config Caddyfile
      fetch each provider's discovery document and JWKS now and list the
      signing keys (kid, alg, key type and size, RFC 7638 thumbprint)

  caddy edgeauth explain --config Caddyfile --token - --path /admin
      load the config without starting servers, find the edgeauth handler
      that serves the request and show every check on the token, the rules
      of the path and the headers the upstream would get; the exit status
      is 0 when the request would reach the upstream, 2 when it is refused
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(secretCommand(), keysCommand(), explainCommand())
		},
	})
}

// Exit statuses of the subcommands.
const (
	exitOK      = 0
	exitError   = 1 // the command itself failed (config, flags, network)
	exitRefused = 2 // explain: the request would be refused
)

// runE adapts a subcommand body to cobra: its own output goes to stdout,
// errors to stderr, and its status becomes the process's exit status.
func runE(f func(cmd *cobra.Command, out io.Writer) (int, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		cmd.SilenceUsage = true
		cmd.SilenceErrors = true
		status, err := f(cmd, cmd.OutOrStdout())
		if err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "caddy edgeauth "+cmd.Name()+": "+err.Error())
		}
		if status != exitOK {
			os.Exit(status)
		}
		return nil
	}
}

// readToken returns the token given by --token: "-" (or nothing) reads the
// first line of stdin (without echo at a terminal), so that the token
// stays out of shell history and off the screen. A leading "Bearer " is
// dropped.
func readToken(flag string, stdin io.Reader) (string, error) {
	raw := flag
	if f, ok := stdin.(*os.File); ok && (raw == "" || raw == "-") && term.IsTerminal(int(f.Fd())) {
		// Typed or pasted at a terminal: not echoed, like hash-password.
		fmt.Fprint(os.Stderr, "Token: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", fmt.Errorf("reading the token: %v", err)
		}
		raw = string(b)
	} else if raw == "" || raw == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 1<<20)).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("reading the token from stdin: %v", err)
		}
		raw = line
	}
	raw = strings.TrimSpace(raw)
	if len(raw) > 7 && strings.EqualFold(raw[:7], "bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return "", fmt.Errorf("no token: pass --token - and write the token on stdin (or --token <token>)")
	}
	return raw, nil
}
