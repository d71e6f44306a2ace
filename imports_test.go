package caddyedgeauth

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestXcaddyManifestMatchesGoMod keeps xcaddy.json's Caddy version equal to
// the one go.mod builds with, and its plugin path equal to the module path.
func TestXcaddyManifestMatchesGoMod(t *testing.T) {
	raw, err := os.ReadFile("xcaddy.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		CaddyVersion string `json:"caddy_version"`
		Plugins      []struct {
			ModulePath string `json:"module_path"`
			Replace    string `json:"replace"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatalf("xcaddy.json: %v", err)
	}
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/caddyserver/caddy/v2 (v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/caddyserver/caddy/v2")
	}
	if manifest.CaddyVersion != string(m[1]) {
		t.Errorf("xcaddy.json caddy_version %q, go.mod has %q", manifest.CaddyVersion, m[1])
	}
	mod := regexp.MustCompile(`(?m)^module (\S+)`).FindSubmatch(gomod)
	if len(manifest.Plugins) != 1 || manifest.Plugins[0].ModulePath != string(mod[1]) {
		t.Errorf("xcaddy.json plugins = %+v, want one plugin %s", manifest.Plugins, mod[1])
	}
}

// TestModulesRegistered checks that importing the root package registers the
// four modules that `caddy list-modules` shows.
func TestModulesRegistered(t *testing.T) {
	for _, id := range []string{"edgeauth", "http.handlers.edgeauth", "http.authentication.providers.edgeauth", "admin.api.edgeauth"} {
		if _, err := caddy.GetModule(id); err != nil {
			t.Errorf("module %s is not registered: %v", id, err)
		}
	}
}
