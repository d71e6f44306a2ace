package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profileAll runs each available scenario once more on its edgeauth Caddy
// while taking a CPU profile and two allocation snapshots from Caddy's admin
// endpoint. These runs are not reported.
func (r *runner) profileAll(ctx context.Context, scenarios []*scenario) error {
	if err := os.MkdirAll(r.cfg.Profile, 0o755); err != nil {
		return err
	}
	for _, sc := range scenarios {
		if sc.unavailable != "" {
			continue
		}
		if err := r.profile(ctx, sc); err != nil {
			return fmt.Errorf("profiling scenario %d: %w", sc.id, err)
		}
	}
	r.logf("profiles in %s; read them with e.g. go tool pprof -top %s",
		r.cfg.Profile, filepath.Join(r.cfg.Profile, "cpu-scenario1.pprof"))
	return nil
}

// profile takes the profiles of one scenario: edgeauth's Caddy (CPU and
// allocations) and, for comparison, bare Caddy's CPU under the same requests.
func (r *runner) profile(ctx context.Context, sc *scenario) error {
	name := func(kind string) string {
		return filepath.Join(r.cfg.Profile, fmt.Sprintf("%s-scenario%d.pprof", kind, sc.id))
	}
	edge := r.procs[sc.setup]
	if err := fetchProfile(ctx, edge.admin, "allocs", name("allocs-before")); err != nil {
		return err
	}
	rps, err := r.profileRun(ctx, edge, sc.edgeURL, sc.edge, name("cpu"))
	if err != nil {
		return err
	}
	if err := fetchProfile(ctx, edge.admin, "allocs", name("allocs-after")); err != nil {
		return err
	}
	bare := r.procs[setupBare]
	bareRPS, err := r.profileRun(ctx, bare, bare.URL(), sc.bare, name("cpu-bare"))
	if err != nil {
		return err
	}
	r.logf("scenario %d profiled (edgeauth %.0f req/s, bare %.0f req/s while profiling): %s, %s; allocations: go tool pprof -sample_index=alloc_space -diff_base %s %s",
		sc.id, rps, bareRPS, name("cpu"), name("cpu-bare"), name("allocs-before"), name("allocs-after"))
	return nil
}

// profileRun drives url alone while taking a CPU profile of p into path.
func (r *runner) profileRun(ctx context.Context, p *caddyProc, url string, src Source, path string) (float64, error) {
	secs := max(1, int(r.cfg.Duration.Seconds()))
	const lead = 500 * time.Millisecond
	errc := make(chan error, 1)
	go func() {
		sleep(ctx, lead)
		errc <- fetchProfile(ctx, p.admin, "profile?seconds="+strconv.Itoa(secs), path)
	}()
	res, err := Run(ctx, RunOptions{URL: url, Conns: r.cfg.Conns, Warmup: lead, Duration: time.Duration(secs)*time.Second + 500*time.Millisecond}, src)
	if err != nil {
		return 0, err
	}
	if err := <-errc; err != nil {
		return 0, err
	}
	return res.RPS(), nil
}

// fetchProfile saves http://admin/debug/pprof/<what> to path.
func fetchProfile(ctx context.Context, admin, what, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("fetching %s from Caddy's admin endpoint: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fetching %s from Caddy's admin endpoint: status %d: %s", what, resp.StatusCode, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
