package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
)

// startCaddyProcess runs the caddy binary with a Caddyfile; the process is
// killed when the test ends, and its output logged if the test failed.
func startCaddyProcess(t *testing.T, bin, name, caddyfile string) {
	t.Helper()
	cfg := writeFile(t, "Caddyfile", caddyfile)
	home := t.TempDir()
	out := &tailBuffer{max: 64 << 10}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
}

// TestDPoPFleetReplay: two gateway processes share Redis (the session
// store) and one dpop_origin, so a proof is valid at both; once one has
// accepted it, the other refuses it as a replay, and nonces one makes are
// accepted by the other (they share the session secret).
func TestDPoPFleetReplay(t *testing.T) {
	bin := buildCaddy(t)
	e := newEnv(t, demoidp.Options{})
	rs := redistest.Start(t)
	const origin = "https://api.example"
	ports := []int{freePort(t), freePort(t)}
	for i, port := range ports {
		startCaddyProcess(t, bin, fmt.Sprintf("instance %d", i+1), fmt.Sprintf(`{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	skip_install_trust
	servers {
		max_header_size 64KB
	}
	edgeauth {
%s
		session {
			secret %s
			store redis {
				address %s
				key_prefix edgeauth-dpop-test:
			}
		}
	}
}

http://127.0.0.1:%d {
	edgeauth demo {
		dpop_origin %s
	}
	reverse_proxy %s
}
`, e.providerBlock("demo", "dpop_nonce"), secretNew, rs.Addr(), port, origin, e.upstream))
	}
	alice := newDPoPClient(t)
	tok := e.mint(map[string]any{"sub": "alice"}, demoidp.WithJKT(alice.jkt))
	send := func(port int, proof string) (*http.Response, []byte) {
		t.Helper()
		ne := *e
		ne.port = port
		return ne.dpopRequest("GET", "/x", "DPoP", tok, []string{proof})
	}
	// The first answer of each instance hands out its nonce.
	nonces := make([]string, len(ports))
	for i, port := range ports {
		waitFor(t, fmt.Sprintf("instance %d with the provider's keys", i+1), 30*time.Second, func() bool {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/x", port), nil)
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", alice.proof("GET", origin+"/x", tok))
			resp, err := e.client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			nonces[i] = resp.Header.Get("DPoP-Nonce")
			return resp.StatusCode == http.StatusUnauthorized && nonces[i] != ""
		})
	}
	if nonces[0] != nonces[1] {
		t.Fatal("two instances sharing the session secret hand out different nonces")
	}
	withNonce := func(_ jws.Headers, c map[string]any) { c["nonce"] = nonces[0] }
	proof := alice.proof("GET", origin+"/x", tok, withNonce)
	got := e.upstreamSaw(send(ports[0], proof))
	if !strings.EqualFold(got.header("X-Auth-Token-Binding"), "dpop") {
		t.Fatalf("X-Auth-Token-Binding = %q", got.header("X-Auth-Token-Binding"))
	}
	resp, body := send(ports[1], proof)
	assertDPoPRefused(t, resp, body, "invalid_dpop_proof", "invalid_dpop_proof", true, tok, proof)
	if !strings.Contains(string(body), "used before") {
		t.Fatalf("refused for another reason than the replay: %s", body)
	}
	// A fresh proof passes on the second instance too.
	e.upstreamSaw(send(ports[1], alice.proof("GET", origin+"/x", tok, withNonce)))
}
