package edgeauth

import (
	"runtime/debug"
	"testing"
)

// TestVersionFrom reads the plugin's version from the three shapes of build
// info: a ./cmd/caddy build (the plugin is the main module), an xcaddy
// build from a release, and an xcaddy build with a local replacement.
func TestVersionFrom(t *testing.T) {
	other := &debug.Module{Path: "github.com/caddyserver/caddy/v2", Version: "v2.11.9"}
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"cmd/caddy", debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.0.0-20261207033000-0c04888abcde+dirty"}, Deps: []*debug.Module{other}},
			"v0.0.0-20261207033000-0c04888abcde+dirty"},
		{"xcaddy release", debug.BuildInfo{Main: debug.Module{Path: "caddy", Version: "(devel)"}, Deps: []*debug.Module{other, {Path: modulePath, Version: "v1.2.3"}}},
			"v1.2.3"},
		{"xcaddy replaced", debug.BuildInfo{Main: debug.Module{Path: "caddy", Version: "(devel)"}, Deps: []*debug.Module{{Path: modulePath, Version: "v0.0.0-00010101000000-000000000000", Replace: &debug.Module{Path: "/src/caddy-edgeauth"}}}},
			"v0.0.0-00010101000000-000000000000 => /src/caddy-edgeauth"},
		{"absent", debug.BuildInfo{Main: debug.Module{Path: "caddy"}, Deps: []*debug.Module{other}}, "unknown"},
	} {
		if got := versionFrom(&tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
