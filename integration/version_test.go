package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBuiltCaddyReportsPluginVersion builds ./cmd/caddy and checks what
// the README says an operator sees: `caddy list-modules --versions` lists
// edgeauth's four modules, `caddy build-info` has the plugin as the main
// module, and the running binary's admin API reports that same version
// (read from build info) at GET /edgeauth/providers.
func TestBuiltCaddyReportsPluginVersion(t *testing.T) {
	bin := buildCaddy(t)
	out, err := exec.Command(bin, "list-modules", "--versions", "--skip-standard").CombinedOutput()
	if err != nil {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	for _, id := range []string{"admin.api.edgeauth", "edgeauth", "http.authentication.providers.edgeauth", "http.handlers.edgeauth"} {
		if !strings.Contains("\n"+string(out), "\n"+id) {
			t.Errorf("list-modules does not list %s:\n%s", id, out)
		}
	}
	info, err := exec.Command(bin, "build-info").CombinedOutput()
	if err != nil {
		t.Fatalf("build-info: %v\n%s", err, info)
	}
	var mainVersion string
	for _, l := range strings.Split(string(info), "\n") {
		if f := strings.Split(l, "\t"); len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/edgeauth/caddy-edgeauth" {
			mainVersion = f[2]
		}
	}
	if mainVersion == "" {
		t.Fatalf("build-info has no `mod github.com/edgeauth/caddy-edgeauth` line:\n%.600s", info)
	}

	admin := freePort(t)
	cfg := writeFile(t, "Caddyfile", fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	edgeauth {
		provider corp {
			issuer http://127.0.0.1:%d
			client_id a
		}
	}
}
http://127.0.0.1:%d {
	edgeauth corp
	respond "ok"
}
`, admin, freePort(t), freePort(t)))
	home := t.TempDir()
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	output := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("caddy output:\n%s", output)
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}
	var answer struct {
		Version string `json:"version"`
	}
	waitFor(t, "the admin API", 20*time.Second, func() bool {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/edgeauth/providers", admin))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&answer) == nil
	})
	if answer.Version != mainVersion {
		t.Errorf("GET /edgeauth/providers version %q, build-info says %q", answer.Version, mainVersion)
	}
}
