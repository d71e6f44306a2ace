package integration

import (
	"os"
	"testing"
)

// TestMain removes the caddy binary the tests built (see buildCaddy) once
// every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if caddyBuild.dir != "" {
		_ = os.RemoveAll(caddyBuild.dir)
	}
	os.Exit(code)
}
