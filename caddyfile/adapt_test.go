package edgeauthcaddyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// TestCaddyfileAdapt runs every testdata/caddyfile_adapt/*.caddyfiletest
// fixture: a Caddyfile, a line of ten dashes, then either the adapted JSON
// (compared structurally) or `error: <substring>` for a Caddyfile that must be
// refused. Set EDGEAUTH_UPDATE_GOLDEN=1 to rewrite the JSON halves.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("../testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no fixtures found in testdata/caddyfile_adapt")
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatalf("%s: no ---------- separator", file)
			}
			got, _, adaptErr := adapter.Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
			if wantErr, isErr := strings.CutPrefix(strings.TrimSpace(want), "error:"); isErr {
				if adaptErr == nil {
					t.Fatalf("adapting succeeded, want an error containing %q", strings.TrimSpace(wantErr))
				}
				if !strings.Contains(adaptErr.Error(), strings.TrimSpace(wantErr)) {
					t.Fatalf("error %q does not contain %q", adaptErr, strings.TrimSpace(wantErr))
				}
				return
			}
			if adaptErr != nil {
				t.Fatalf("adapting: %v", adaptErr)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if os.Getenv("EDGEAUTH_UPDATE_GOLDEN") == "1" {
				out := input + "\n----------\n" + pretty.String() + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var gotV, wantV any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(want), &wantV); err != nil {
				t.Fatalf("%s: golden JSON does not parse: %v", file, err)
			}
			gotN, _ := json.Marshal(gotV)
			wantN, _ := json.Marshal(wantV)
			if !bytes.Equal(gotN, wantN) {
				t.Errorf("adapted JSON differs from the golden file\n got: %s\nwant: %s", pretty.String(), want)
			}
		})
	}
}

// TestReadmeExamplesHaveGoldens: every ```caddyfile block in the README is
// also a fixture above, so each documented example is known to adapt and its
// JSON is on record.
func TestReadmeExamplesHaveGoldens(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	fixtures := map[string]bool{}
	files, _ := filepath.Glob("../testdata/caddyfile_adapt/*.caddyfiletest")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		input, _, _ := strings.Cut(string(raw), "\n----------\n")
		fixtures[strings.TrimSpace(input)] = true
	}
	blocks := strings.Split(string(readme), "```caddyfile\n")
	if len(blocks) < 2 {
		t.Fatal("the README has no caddyfile example")
	}
	for i, block := range blocks[1:] {
		example, _, ok := strings.Cut(block, "```")
		if !ok {
			t.Fatalf("README caddyfile block %d is not closed", i+1)
		}
		if !fixtures[strings.TrimSpace(example)] {
			t.Errorf("README caddyfile block %d has no fixture in testdata/caddyfile_adapt with the same text:\n%s", i+1, example)
		}
	}
}

// TestReadmeExamplesLoad provisions and validates the README's examples as
// `caddy validate` would (nothing is fetched: providers load in the
// background only once started), so a documented example that adapts but
// fails at load time is caught.
func TestReadmeExamplesLoad(t *testing.T) {
	t.Setenv("GATEWAY_CLIENT_SECRET", "gateway-secret")
	t.Setenv("ALIYUN_CLIENT_SECRET", "aliyun-secret")
	t.Setenv("EDGEAUTH_KEY_NEW", "new-session-key-0123456789abcdef0123")
	t.Setenv("EDGEAUTH_KEY_OLD", "old-session-key-0123456789abcdef0123")
	t.Setenv("EDGEAUTH_SESSION_KEY", "the-session-key-0123456789abcdef0123")
	files, _ := filepath.Glob("../testdata/caddyfile_adapt/readme_*.caddyfiletest")
	if len(files) == 0 {
		t.Fatal("no readme_* fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, _, _ := strings.Cut(string(raw), "\n----------\n")
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
			if err != nil {
				t.Fatal(err)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("the README example does not load: %v", err)
			}
		})
	}
}
