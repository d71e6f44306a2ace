package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the upstream process, as the
// command does when it starts itself again.
func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == roleUpstream {
		if err := serveUpstream(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testLog sends the tool's progress lines to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestSmoke runs the whole tool for real with tiny runs: Caddy built from
// ./cmd/caddy (about 5 s from a warm build cache), the demo provider, the
// upstream process, redis-server (scenario 6; the test fails without it),
// the enforcement checks, calibration and minting for scenario 2, one round
// of every scenario. Scenarios whose wiring is not in
// the plugin yet must say why instead of reporting numbers.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildCaddy(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Slice: 100 * time.Millisecond, Rounds: 1, Conns: 4,
		Scenarios: []int{1, 2, 3, 4, 5, 6, 7}, Caddy: bin, MaxPool: 300, Command: "smoke test",
	}
	rep, err := run(ctx, cfg, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.rows) != 7 {
		t.Fatalf("%d rows, want 7", len(rep.rows))
	}
	for _, r := range rep.rows {
		if r.unavailable != "" {
			if r.info.setup == setupBearer || r.info.setup == setupFleet || !strings.HasPrefix(r.unavailable, "not available: ") || len(r.unavailable) < len("not available: ")+10 {
				t.Errorf("scenario %d: unavailable %q", r.info.id, r.unavailable)
			}
			t.Logf("scenario %d: %s", r.info.id, r.unavailable)
			continue
		}
		if len(r.bare) != 1 || len(r.edge) != 1 {
			t.Fatalf("scenario %d: %d bare and %d edgeauth runs, want 1 each", r.info.id, len(r.bare), len(r.edge))
		}
		for side, res := range map[string]*Result{"bare": r.bare[0], "edgeauth": r.edge[0]} {
			if res.Requests == 0 || res.Unexpected != 0 || res.Failed != 0 {
				t.Errorf("scenario %d %s: %d requests, %d unexpected statuses, %d transport errors", r.info.id, side, res.Requests, res.Unexpected, res.Failed)
			}
		}
		if r.edge[0].CPUPerRequest() <= 0 || r.bare[0].CPUPerRequest() <= 0 {
			t.Errorf("scenario %d: no CPU per request measured", r.info.id)
		}
		if r.ratio() <= 0 {
			t.Errorf("scenario %d: ratio %v", r.info.id, r.ratio())
		}
	}
	s2 := rep.rows[1]
	if s2.poolSize == 0 || s2.taken == 0 || s2.reused != max(0, s2.taken-int64(s2.poolSize)) {
		t.Errorf("scenario 2: pool %d, taken %d, reused %d", s2.poolSize, s2.taken, s2.reused)
	}
	// Scenario 6 replays a sealed session ID, far smaller than scenario 3's
	// whole sealed session.
	s3, s6 := rep.rows[2], rep.rows[5]
	if s6.cookieBytes <= 0 || s6.cookieBytes >= maxFleetCookie {
		t.Errorf("scenario 6: Cookie header %d bytes, want 1 to %d", s6.cookieBytes, maxFleetCookie-1)
	}
	if s3.unavailable == "" && s3.cookieBytes <= s6.cookieBytes {
		t.Errorf("scenario 3's cookie (%d bytes) is not larger than scenario 6's (%d bytes)", s3.cookieBytes, s6.cookieBytes)
	}
	t.Logf("scenario 6: redis-server CPU %s per request", s6.storeCPU())
	// Scenarios 6 and 7 count Redis commands; 7 runs on three instances.
	s7 := rep.rows[6]
	for _, r := range []*row{s6, s7} {
		if cmds, ok := r.storeCommands(); !ok || cmds < 0 {
			t.Errorf("scenario %d: Redis commands per request not measured (%v, %v)", r.info.id, cmds, ok)
		} else {
			t.Logf("scenario %d: %.4f Redis commands per request", r.info.id, cmds)
		}
	}
	if len(s7.edgeProcs) != 3 || !strings.Contains(rep.table(), "the sum over 3 edgeauth instances") {
		t.Errorf("scenario 7: edgeauth side %v, want the three fleet instances", s7.edgeProcs)
	}
	if !strings.Contains(strings.Join(rep.memory, ", "), setupFleet+" ") {
		t.Errorf("peak memory of the fleet Caddy not reported: %q", rep.memory)
	}
	if len(rep.memory) < 2 || !strings.Contains(rep.summaryText(), "edgeauth ") {
		t.Errorf("peak memory not reported: %q", rep.memory)
	}
	if table := rep.table(); strings.Count(table, "\n") != 9 {
		t.Errorf("table:\n%s", table)
	}
}

// TestRedisMissingFailsClearly: without redis-server on PATH, scenario 6
// must stop the tool with a message that says how to fix it.
func TestRedisMissingFailsClearly(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p, err := startRedis(context.Background(), t.TempDir())
	if err == nil {
		p.stop()
		t.Fatal("redis-server started with an empty PATH")
	}
	for _, want := range []string{"redis-server", "apt-get install", "-scenarios 1,2,3,4,5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestFleetCaddyfile: only the fleet setup keeps sessions in Redis, and it
// has the same login wiring as scenario 3's setup.
func TestFleetCaddyfile(t *testing.T) {
	base := caddyConfig{Admin: "127.0.0.1:1", Addr: "127.0.0.1:2", Upstream: "127.0.0.1:3", Issuer: "https://idp",
		ClientID: "c", Secret: "s", CAFile: "ca.pem", SessionKey: "k", LoginHint: "alice", RedisAddr: "127.0.0.1:6390"}
	texts := map[string]string{}
	for _, setup := range []string{setupLogin, setupFleet} {
		cfg := base
		cfg.Setup = setup
		text, err := caddyfile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		texts[setup] = text
	}
	if !strings.Contains(texts[setupFleet], "store redis {\n\t\t\t\taddress 127.0.0.1:6390") {
		t.Errorf("fleet Caddyfile lacks the Redis store:\n%s", texts[setupFleet])
	}
	if strings.Contains(texts[setupLogin], "redis") {
		t.Errorf("login Caddyfile uses Redis:\n%s", texts[setupLogin])
	}
	for _, want := range []string{"client_secret s", "login /oauth2/ {", "param login_hint alice"} {
		if !strings.Contains(texts[setupFleet], want) || !strings.Contains(texts[setupLogin], want) {
			t.Errorf("%q missing from the login or fleet Caddyfile", want)
		}
	}
}

// TestEnforceRefusesAnOpenServer: a "protected" server that lets everything
// through must stop the tool before it measures anything.
func TestEnforceRefusesAnOpenServer(t *testing.T) {
	open := httptest.NewServer(http.HandlerFunc(upstreamHandler))
	defer open.Close()
	err := enforce(context.Background(), "edgeauth", open.URL, bearerChecks("valid", "invalid"))
	if err == nil || !strings.Contains(err.Error(), "want 200") && !strings.Contains(err.Error(), "X-Auth-*") {
		// The first check (valid token) passes on status but the upstream
		// saw no identity headers.
		t.Fatalf("an open server passed the checks: %v", err)
	}
	err = enforce(context.Background(), "edgeauth", open.URL, []expectation{{what: "no token", status: 401}})
	if err == nil || !strings.Contains(err.Error(), "got status 200, want 401") {
		t.Fatalf("an open server passed the no-token check: %v", err)
	}
}
