package edgeauthcmd

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// secretBytes is the entropy of a generated session secret; its base64url
// form (64 characters) is well past session.MinSecretLen.
const secretBytes = 48

func secretCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "secret",
		Short: "Print a fresh session secret",
		Long: `Print a fresh session secret: 48 random bytes (crypto/rand) as 64
characters of base64url, ready for an environment variable that the
session block names:

    EDGEAUTH_SESSION_KEY=$(caddy edgeauth secret)
    session { secret {env.EDGEAUTH_SESSION_KEY} }`,
		Args: cobra.NoArgs,
		RunE: runE(func(_ *cobra.Command, out io.Writer) (int, error) {
			s, err := newSecret(rand.Reader)
			if err != nil {
				return exitError, err
			}
			fmt.Fprintln(out, s)
			return exitOK, nil
		}),
	}
}

// newSecret reads secretBytes from r and encodes them as base64url.
func newSecret(r io.Reader) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("reading random bytes: %v", err)
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) < session.MinSecretLen {
		return "", fmt.Errorf("generated secret is too short")
	}
	return s, nil
}
