package assertion

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoCaddy: backends import this package without Caddy, so
// neither it nor anything it depends on may import a Caddy package or
// another package of this module.
func TestImportsNoCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed only %q", deps)
	}
	const self = "github.com/edgeauth/caddy-edgeauth/assertion"
	found := false
	for _, d := range deps {
		switch {
		case d == self:
			found = true
		case strings.HasPrefix(d, "github.com/caddyserver/"), strings.HasPrefix(d, "github.com/edgeauth/"):
			t.Errorf("the assertion package depends on %s", d)
		}
	}
	if !found {
		t.Errorf("go list -deps did not list %s itself: %q", self, deps)
	}
}
