package edgeauthcmd

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	edgeauth "github.com/edgeauth/caddy-edgeauth/module"
	"github.com/edgeauth/caddy-edgeauth/module/identity"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// bidiControls are the Unicode bidirectional formatting characters that
// reorder how a terminal shows a line: LRE, RLE, PDF, LRO, RLO, LRI, RLI,
// FSI, PDI, LRM, RLM and ALM.
var bidiControls = []rune{
	'\u202a', '\u202b', '\u202c', '\u202d', '\u202e',
	'\u2066', '\u2067', '\u2068', '\u2069',
	'\u200e', '\u200f', '\u061c',
}

// TestRedTeamExplainEscapesBidiControls: an unverified claim such as
// "upn":"\u202ederetpecca :tcidrev" must not reach the operator's terminal
// as a right-to-left override that renders "upn: verdict: accepted". Every
// bidi control in a claim name or value, a header value or a verdict is
// shown as a visible \uXXXX escape instead.
func TestRedTeamExplainEscapesBidiControls(t *testing.T) {
	var all strings.Builder
	for _, r := range bidiControls {
		all.WriteRune(r)
	}
	fake := "\u202ederetpecca :tcidrev"
	claims := map[string]any{
		"upn":              fake,
		"name":             "x" + all.String() + "y",
		"\u202eroles":      "r",
		"department":       "ok-ascii",
		"preferred_script": "עברית", // right-to-left letters are not controls: kept
	}

	refused := &edgeauth.Explanation{
		Token: token.Explanation{
			Provider: "demo",
			Checks:   []token.Check{{Name: "signature", Detail: "bad"}},
			Claims:   claims,
			Err:      errors.New("signature invalid"),
		},
		Status: http.StatusUnauthorized,
	}
	accepted := &edgeauth.Explanation{
		Token: token.Explanation{
			Provider: "demo",
			Checks:   []token.Check{{Name: "signature", OK: true}},
			Claims:   claims,
			Identity: &identity.Identity{Claims: claims},
		},
		Headers: http.Header{"X-Auth-User": {fake}},
	}
	for name, e := range map[string]*edgeauth.Explanation{"refused": refused, "accepted": accepted} {
		var buf bytes.Buffer
		printExplanation(&buf, e)
		out := buf.String()
		for _, r := range bidiControls {
			if strings.ContainsRune(out, r) {
				t.Errorf("%s: output holds bidi control U+%04X:\n%s", name, r, out)
			}
		}
		if !strings.Contains(out, `upn: \u202Ederetpecca :tcidrev`) {
			t.Errorf("%s: the override is not shown as a visible escape:\n%s", name, out)
		}
		if !strings.Contains(out, `name: x\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061Cy`) {
			t.Errorf("%s: not every bidi control is escaped:\n%s", name, out)
		}
		if !strings.Contains(out, `\u202Eroles: r`) || !strings.Contains(out, "preferred_script: עברית") {
			t.Errorf("%s: claim name escape or right-to-left letters wrong:\n%s", name, out)
		}
	}
}
