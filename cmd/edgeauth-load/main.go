// Command edgeauth-load measures what edgeauth costs next to bare Caddy.
//
// On loopback it starts a trivial upstream, the demo OpenID provider, bare
// Caddy (reverse_proxy) and Caddy with edgeauth in front of the same
// upstream (each Caddy in its own process, built once from ./cmd/caddy),
// checks that edgeauth enforces, then drives both with the same closed-loop
// generator, interleaved (bare, edgeauth, bare, edgeauth … in slices of
// -slice, each side keeping its connections) over rounds, and
// prints requests/s, p50 and p99 latency and the ratio to bare Caddy for
// each scenario of issue 5, and issue 6's fleet scenario:
//
//  1. one repeated bearer token;
//  2. a new valid token every request (pre-minted pool; reuse is counted);
//  3. a browser session cookie;
//  4. a bearer token with STS credentials injected;
//  5. 90 % valid and 10 % bad-signature tokens;
//  6. a browser session cookie with the sessions in Redis (`store redis`):
//     the cookie holds a sealed session ID; the session is read from a
//     redis-server the tool starts (it must be on PATH) and then answered
//     from the instance's near-cache;
//  7. the same cookie with connections spread over three edgeauth
//     instances sharing that Redis (the CPU column sums the three).
//  8. a DPoP-bound token with a fresh ES256 proof on every request (issue
//     12; not in the default list: `-scenarios 1,8`).
//  9. scenario 1 on a route with `assertion` (issue 10): the report compares
//     it with scenario 1 (throughput ≥ 0.97, Caddy CPU ≤ +3 µs per request)
//     and gives the signature count read from the gateway's metrics.
//
// For 6 and 7 the notes give redis-server's CPU and its commands (INFO
// commandstats before and after) per edgeauth request.
//
// Usage, from the repository root:
//
//	go run ./cmd/edgeauth-load [-duration 2s] [-slice 250ms] [-rounds 4] [-conns 32]
//		[-scenarios 1,2,3,4,5,6,7,9] [-out BENCHMARKS.md] [-caddy path] [-profile dir]
//		[-min-pool n] [-max-pool n]
//
// It exits 1 when a setup does not enforce (nothing is reported) or on any
// other failure, and 3 when it measured but something looked wrong (unexpected
// statuses, transport errors, reused tokens).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv(roleEnv) == roleUpstream {
		if err := serveUpstream(); err != nil {
			fmt.Fprintln(os.Stderr, "edgeauth-load:", err)
			os.Exit(1)
		}
		return
	}
	cfg, out, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgeauth-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edgeauth-load:", err)
		stop()
		os.Exit(1)
	}
	fmt.Print(rep.summaryText())
	if out != "" {
		if err := writeBenchFile(out, rep); err != nil {
			fmt.Fprintln(os.Stderr, "edgeauth-load: writing", out+":", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "edgeauth-load: wrote", out)
	}
	if len(rep.problems()) > 0 {
		stop()
		os.Exit(3)
	}
}

// parseFlags reads the command line into a config and the output path.
func parseFlags(args []string) (config, string, error) {
	fs := flag.NewFlagSet("edgeauth-load", flag.ContinueOnError)
	var cfg config
	fs.DurationVar(&cfg.Duration, "duration", 2*time.Second, "measured time of each run")
	fs.DurationVar(&cfg.Warmup, "warmup", 300*time.Millisecond, "unmeasured warm-up before each run")
	fs.DurationVar(&cfg.Slice, "slice", 250*time.Millisecond, "within a round, bare and edgeauth take turns for this long")
	fs.IntVar(&cfg.Rounds, "rounds", 4, "rounds of (bare, edgeauth) runs per scenario")
	fs.IntVar(&cfg.Conns, "conns", 32, "connections, each sending requests back to back")
	list := fs.String("scenarios", "1,2,3,4,5,6,7,9", "comma-separated scenarios to run")
	out := fs.String("out", "", "also write the report into this Markdown file (e.g. BENCHMARKS.md)")
	fs.StringVar(&cfg.Caddy, "caddy", "", "a Caddy binary built with edgeauth (default: go build ./cmd/caddy into a temporary directory)")
	fs.StringVar(&cfg.Profile, "profile", "", "after measuring, save CPU and allocation profiles of each edgeauth scenario into this directory")
	fs.IntVar(&cfg.MaxPool, "max-pool", 200000, "most fresh tokens minted for scenario 2")
	fs.IntVar(&cfg.MinPool, "min-pool", 0, "fewest fresh tokens minted for scenario 2 (when a calibration on a busy machine guesses too few)")
	if err := fs.Parse(args); err != nil {
		return config{}, "", err
	}
	if fs.NArg() > 0 {
		return config{}, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case cfg.Duration < 100*time.Millisecond:
		return config{}, "", fmt.Errorf("-duration %s is too short; use at least 100ms", cfg.Duration)
	case cfg.Warmup < 0:
		return config{}, "", fmt.Errorf("-warmup must not be negative")
	case cfg.Slice < 10*time.Millisecond:
		return config{}, "", fmt.Errorf("-slice %s is too short; use at least 10ms", cfg.Slice)
	case cfg.Rounds < 1:
		return config{}, "", fmt.Errorf("-rounds must be at least 1")
	case cfg.Conns < 1 || cfg.Conns > 1024:
		return config{}, "", fmt.Errorf("-conns must be between 1 and 1024")
	case cfg.MaxPool < 100:
		return config{}, "", fmt.Errorf("-max-pool must be at least 100")
	case cfg.MinPool < 0 || cfg.MinPool > cfg.MaxPool:
		return config{}, "", fmt.Errorf("-min-pool must be between 0 and -max-pool")
	}
	var err error
	if cfg.Scenarios, err = parseScenarios(*list); err != nil {
		return config{}, "", err
	}
	if cfg.Caddy != "" {
		// Caddy runs in a temporary directory: a relative path would not resolve there.
		if cfg.Caddy, err = filepath.Abs(cfg.Caddy); err != nil {
			return config{}, "", err
		}
	}
	cfg.Command = "go run ./cmd/edgeauth-load"
	if len(args) > 0 {
		cfg.Command += " " + strings.Join(args, " ")
	}
	return cfg, *out, nil
}

// parseScenarios reads "1,2,5" into sorted, distinct scenario numbers.
func parseScenarios(s string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("-scenarios: %q is not a scenario number", part)
		}
		if _, err := scenarioByID(id); err != nil {
			return nil, fmt.Errorf("-scenarios: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-scenarios: name at least one scenario")
	}
	slices.Sort(out)
	return out, nil
}
