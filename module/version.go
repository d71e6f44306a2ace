package edgeauth

import (
	"runtime/debug"
	"sync"
)

// modulePath is this Go module's path, as go.mod names it.
const modulePath = "github.com/edgeauth/caddy-edgeauth"

// ModuleVersion is the plugin's version as the binary's build info records
// it. In a Caddy built by xcaddy (or any main package that requires the
// plugin) that is the required version, with the replacement when there is
// one, e.g. `v0.0.0-00010101000000-000000000000 => /src/caddy-edgeauth`;
// `caddy list-modules --versions` shows the same version. In a binary built
// from this repository's ./cmd/caddy the plugin is the main module, which
// Caddy's list-modules cannot see: its version is the main module's, a
// pseudo-version from the VCS stamp (`v0.0.0-<time>-<commit>[+dirty]`) or
// `(devel)` when built with -buildvcs=false. "unknown" without build info.
func ModuleVersion() string {
	moduleVersionOnce.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			moduleVersion = "unknown"
			return
		}
		moduleVersion = versionFrom(bi)
	})
	return moduleVersion
}

var (
	moduleVersionOnce sync.Once
	moduleVersion     string
)

// versionFrom finds the plugin's module in build info: the main module or
// a dependency (with its replacement).
func versionFrom(bi *debug.BuildInfo) string {
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, dep := range bi.Deps {
		if dep.Path != modulePath {
			continue
		}
		v := dep.Version
		if r := dep.Replace; r != nil {
			v += " => " + r.Path
			if r.Version != "" {
				v += "@" + r.Version
			}
		}
		return v
	}
	return "unknown"
}
