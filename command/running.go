package edgeauthcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/identity"
)

// runningProvider is one provider as the admin endpoint of a running
// Caddy shows it (GET /edgeauth/providers).
type runningProvider struct {
	Name          string   `json:"name"`
	KeysLoaded    int      `json:"keys_loaded"`
	LastRefresh   string   `json:"last_refresh"`
	KeyAgeSeconds *float64 `json:"key_age_seconds"`
	LastError     string   `json:"last_error"`
}

// fetchRunning asks the admin endpoint at addr for its providers' state.
func fetchRunning(ctx context.Context, addr string) (map[string]runningProvider, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/edgeauth/providers", nil)
	if err != nil {
		return nil, fmt.Errorf("--admin %q: %v", addr, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--admin %s: %v (is Caddy running with its admin endpoint there?)", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("--admin %s: %v", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("--admin %s: GET /edgeauth/providers answered HTTP %d: %s", addr, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var doc struct {
		Providers []runningProvider `json:"providers"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("--admin %s: the answer is not the edgeauth providers list: %v", addr, err)
	}
	out := make(map[string]runningProvider, len(doc.Providers))
	for _, p := range doc.Providers {
		out[p.Name] = p
	}
	return out, nil
}

// printRunning writes the running gateway's state of one provider.
func printRunning(out io.Writer, running map[string]runningProvider, name string) {
	p, ok := running[name]
	if !ok {
		fmt.Fprintln(out, "  running  (the running config has no provider of this name)")
		return
	}
	line := fmt.Sprintf("  running  %d key(s)", p.KeysLoaded)
	if p.LastRefresh != "" && p.KeyAgeSeconds != nil {
		age := time.Duration(*p.KeyAgeSeconds * float64(time.Second)).Round(time.Second)
		fetched := p.LastRefresh
		if t, err := time.Parse(time.RFC3339Nano, fetched); err == nil {
			// The same form as the "fetched" line of the local fetch.
			fetched = t.UTC().Format(time.RFC3339)
		} else {
			fetched = identity.Sanitize(fetched)
		}
		line += fmt.Sprintf(", fetched %s (age %s)", fetched, age)
	} else {
		line += ", never fetched"
	}
	if p.LastError != "" {
		line += ", last error: " + identity.Sanitize(p.LastError)
	}
	fmt.Fprintln(out, line)
}
