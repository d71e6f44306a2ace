package edgeauthcmd

import (
	"bytes"
	"strings"
	"testing"

	edgeauth "github.com/edgeauth/caddy-edgeauth/module"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// TestExplainSaysOptional: on an optional path the explanation says how
// the path treats a token and no token.
func TestExplainSaysOptional(t *testing.T) {
	var out bytes.Buffer
	printExplanation(&out, &edgeauth.Explanation{Optional: true, Token: token.Explanation{Provider: "demo"}})
	if !strings.Contains(out.String(), "rules: the path is optional") {
		t.Errorf("output:\n%s", out.String())
	}
}
