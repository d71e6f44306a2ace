package caddyedgeauth

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTestOnlyPluginsStayOutOfBinaries: plugins that only the tests import
// (caddy-ratelimit, for the README's composition examples) are in go.mod but
// must not be linked into the binaries built from this module.
func TestTestOnlyPluginsStayOutOfBinaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./cmd/caddy", "./cmd/edgeauth-demo", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/caddyserver/caddy/v2/modules/standard") {
		t.Fatalf("go list output does not look like cmd/caddy's dependencies:\n%.500s", out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/mholt/caddy-ratelimit") {
			t.Errorf("%s is linked into a binary; it is a test-only dependency", pkg)
		}
	}
}
