package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// config is what the flags set.
type config struct {
	Duration  time.Duration // measured time of each run
	Warmup    time.Duration // unmeasured time before each run
	Slice     time.Duration // bare and edgeauth take turns this long
	Rounds    int
	Conns     int
	Scenarios []int
	Caddy     string // a built Caddy with the plugin; empty: build ./cmd/caddy
	Profile   string // directory for pprof profiles of the edgeauth side; empty: none
	MaxPool   int    // most fresh tokens minted for scenario 2
	MinPool   int    // fewest fresh tokens minted for scenario 2
	Command   string // the command line, for the report
}

// Calibration of scenario 2's token pool.
const (
	calibTokens   = 2000
	calibDuration = time.Second
	poolMargin    = 0.25
	pause         = 200 * time.Millisecond // between runs, to let the servers settle
)

// runner holds everything one invocation started.
type runner struct {
	cfg   config
	log   io.Writer
	start time.Time
	dir   string
	world *world
	up    *upstreamProc
	redis *redisProc // scenarios 6 and 7's store
	key   string     // the session secret, the same in every setup (the fleet must share it)
	// assertionSince is when scenario 9's Caddy signed its first assertion.
	assertionSince time.Time
	procs          map[string]*caddyProc
	// unavailable says why an edgeauth setup could not start.
	unavailable map[string]string
}

// run sets everything up, checks enforcement, measures and returns the
// report. Progress goes to log.
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	r := &runner{cfg: cfg, log: log, start: time.Now(), procs: map[string]*caddyProc{}, unavailable: map[string]string{}, key: sessionKey()}
	defer r.close()
	costs := r.measureCosts()
	var err error
	if r.dir, err = os.MkdirTemp("", "edgeauth-load-"); err != nil {
		return nil, err
	}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	scenarios, err := r.prepare(ctx)
	if err != nil {
		return nil, err
	}
	rep := newReport(cfg, scenarios)
	rep.costs = costs
	if err := r.measure(ctx, scenarios, rep); err != nil {
		return nil, err
	}
	if err := r.recordSignatures(ctx, rep); err != nil {
		return nil, err
	}
	rep.loadAfter = loadAverage()
	for _, setup := range allSetups {
		if p := r.procs[setup]; p != nil {
			rep.memory = append(rep.memory, fmt.Sprintf("%s %.0f MiB", setup, float64(p.peakRSS())/(1<<20)))
		}
	}
	if cfg.Profile != "" {
		if err := r.profileAll(ctx, scenarios); err != nil {
			return nil, err
		}
	}
	for i, sc := range scenarios {
		if sc.pool != nil {
			rep.rows[i].poolSize = sc.pool.Size()
			rep.rows[i].taken, rep.rows[i].reused = sc.pool.Taken()
		}
	}
	return rep, nil
}

// measureCosts measures single verifications' CPU time before any server
// starts; nil (and a log line) when it cannot.
func (r *runner) measureCosts() *cpuCosts {
	c, err := measureCPUCosts()
	if err != nil {
		r.logf("not measuring single verifications' CPU time: %v", err)
		return nil
	}
	r.logf("one RS256 verification %s, one ES256 %s, a new RS256 token through edgeauth's verifier %s of CPU",
		fmtMicros(c.RS256), fmtMicros(c.ES256), fmtMicros(c.NewToken))
	return &c
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "edgeauth-load: [%5.1fs] "+format+"\n", append([]any{time.Since(r.start).Seconds()}, args...)...)
}

// setup builds Caddy and starts the provider, the upstream and every Caddy
// process the chosen scenarios need.
func (r *runner) setup(ctx context.Context) error {
	bin := r.cfg.Caddy
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		r.logf("building Caddy with edgeauth (go build ./cmd/caddy)")
		if bin, err = buildCaddy(ctx, root, r.dir); err != nil {
			return err
		}
	}
	var err error
	if r.world, err = newWorld(r.dir); err != nil {
		return err
	}
	if r.up, err = startUpstream(ctx); err != nil {
		return err
	}
	need := map[string]bool{setupBare: true}
	for _, id := range r.cfg.Scenarios {
		s, _ := scenarioByID(id)
		need[s.setup] = true
		if id == 7 {
			need[setupFleet2], need[setupFleet3] = true, true
		}
	}
	if need[setupSTS] {
		if err := r.world.startSTS(); err != nil {
			r.unavailable[setupSTS] = err.Error()
			need[setupSTS] = false
		}
	}
	if need[setupFleet] {
		// Without Redis scenarios 6 and 7 cannot run at all: fail, naming the fix.
		if r.redis, err = startRedis(ctx, r.dir); err != nil {
			return err
		}
		r.logf("redis-server listening on %s", r.redis.addr)
	}
	for _, setup := range allSetups {
		if !need[setup] {
			continue
		}
		p, err := r.startSetup(ctx, bin, setup)
		if err != nil {
			if setup == setupLogin || setup == setupSTS {
				r.unavailable[setup] = err.Error()
				r.logf("%s: not available: %v", setup, err)
				continue
			}
			return err
		}
		r.procs[setup] = p
	}
	return nil
}

// startSetup renders the setup's Caddyfile and starts its Caddy.
func (r *runner) startSetup(ctx context.Context, bin, setup string) (*caddyProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	render := setup
	if setup == setupFleet2 || setup == setupFleet3 {
		render = setupFleet // more instances of the same fleet
	}
	cfg := caddyConfig{
		Setup: render, Admin: admin, Addr: addr, Upstream: r.up.addr,
		Issuer: r.world.idp.Issuer(), ClientID: demoidp.DefaultClientID, Secret: demoidp.DefaultClientSecret,
		CAFile: r.world.caFile, SessionKey: r.key, LoginHint: loadUser,
	}
	if r.redis != nil {
		cfg.RedisAddr = r.redis.addr
	}
	if r.world.sts != nil {
		cfg.STSEndpoint = r.world.sts.URL()
		cfg.OIDCProviderARN = r.world.sts.ProviderARN(stsProvider)
		cfg.RoleARN = r.world.sts.RoleARN(stsRole)
	}
	if setup == setupAssertion {
		cfg.StorageDir = filepath.Join(r.dir, "assertion-storage")
	}
	text, err := caddyfile(cfg)
	if err != nil {
		return nil, err
	}
	r.logf("starting Caddy (%s) on %s", setup, addr)
	return startCaddy(ctx, bin, r.dir, setup, text, addr, admin)
}

// prepare checks that every setup enforces and builds each scenario's
// request sources.
func (r *runner) prepare(ctx context.Context) ([]*scenario, error) {
	mint := r.world.mint
	toks, err := mintAll(ctx, mixSet+2, runtime.NumCPU(), mint)
	if err != nil {
		return nil, err
	}
	repeatTok, stsTok, mixToks := toks[0], toks[1], toks[2:]

	bare := r.procs[setupBare]
	if err := enforce(ctx, setupBare, bare.URL(), bareChecks(repeatTok)); err != nil {
		return nil, err
	}
	for _, setup := range []string{setupBearer, setupAssertion} {
		if p := r.procs[setup]; p != nil {
			if err := enforce(ctx, setup, p.URL(), bearerChecks(repeatTok, badSignature(repeatTok))); err != nil {
				return nil, err
			}
		}
	}
	if err := r.checkAssertionSigned(ctx); err != nil {
		return nil, err
	}
	if p := r.procs[setupSTS]; p != nil {
		checks := []expectation{
			{what: "valid bearer token (STS credentials)", hdr: map[string]string{"Authorization": bearer(stsTok)}, status: 200, minAuth: 1, minSts: 1, maxAuth: -1},
			{what: "no token", status: 401},
		}
		if err := enforce(ctx, setupSTS, p.URL(), checks); err != nil {
			return nil, err
		}
	}
	cookies := map[string]string{}
	for _, setup := range []string{setupLogin, setupFleet} {
		if p := r.procs[setup]; p != nil {
			if cookies[setup], err = r.loginSession(ctx, setup, p); err != nil {
				return nil, err
			}
		}
	}
	for _, setup := range []string{setupFleet2, setupFleet3} {
		if p := r.procs[setup]; p != nil {
			// The session made on the first instance, read from Redis.
			checks := []expectation{
				{what: "the fleet's session cookie (login on " + setupFleet + ")", hdr: map[string]string{"Cookie": cookies[setupFleet]}, status: 200, minAuth: 1, maxAuth: -1},
				{what: "no cookie (not a browser navigation)", status: 401},
			}
			if err := enforce(ctx, setup, p.URL(), checks); err != nil {
				return nil, err
			}
		}
	}
	r.logf("every setup enforces: no credential → 401, bad signature → 401, valid → 200 with identity headers upstream")

	var out []*scenario
	for _, id := range r.cfg.Scenarios {
		info, _ := scenarioByID(id)
		sc := &scenario{scenarioInfo: info}
		out = append(out, sc)
		p := r.procs[info.setup]
		if p == nil {
			sc.unavailable = "not available: " + r.unavailable[info.setup]
			continue
		}
		sc.edgeURL = p.URL()
		sc.edgeURLs, sc.edgeProcs = []string{p.URL()}, []string{info.setup}
		switch id {
		case 1, 9:
			sc.bare, sc.edge = repeated("Authorization", bearer(repeatTok))
		case 2:
			if err := r.preparePool(ctx, sc, bearer(repeatTok)); err != nil {
				return nil, err
			}
		case 3, 6, 7:
			cookie := cookies[info.setup]
			sc.bare, sc.edge = repeated("Cookie", cookie)
			sc.cookieBytes = len(cookie)
			if id == 7 {
				sc.edgeURLs, sc.edgeProcs = nil, fleetSetups
				for _, s := range fleetSetups {
					sc.edgeURLs = append(sc.edgeURLs, r.procs[s].URL())
				}
			}
		case 4:
			sc.bare, sc.edge = repeated("Authorization", bearer(stsTok))
		case 5:
			sc.bare, sc.edge = newMix(mixToks)
		case 8:
			if err := r.prepareDPoP(ctx, sc); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// loginSession logs in once on a login setup (scenarios 3 and 6) and checks
// that it enforces: the session cookie → 200 with identity headers
// upstream, no cookie → 401. For the fleet setup it also checks that the
// session lives in Redis: the cookie is small (a sealed session ID, not the
// session) and Redis holds keys. It returns the Cookie header to replay.
func (r *runner) loginSession(ctx context.Context, setup string, p *caddyProc) (string, error) {
	if setup == setupFleet {
		if n, err := r.redis.keys(); err != nil || n != 0 {
			return "", fmt.Errorf("%s: Redis should be empty before the login: %d keys (%v)", setup, n, err)
		}
	}
	cookie, err := acquireSession(ctx, r.world, p.URL())
	if err != nil {
		return "", fmt.Errorf("%s: %w", setup, err)
	}
	checks := []expectation{
		{what: "session cookie", hdr: map[string]string{"Cookie": cookie}, status: 200, minAuth: 1, maxAuth: -1},
		{what: "no cookie (not a browser navigation)", status: 401},
	}
	if err := enforce(ctx, setup, p.URL(), checks); err != nil {
		return "", err
	}
	if setup == setupFleet {
		if len(cookie) >= maxFleetCookie {
			return "", fmt.Errorf("%s: the session cookie is %d bytes, want < %d: the session is in the cookie, not in Redis (is `store redis` wired?)", setup, len(cookie), maxFleetCookie)
		}
		n, err := r.redis.keys()
		if err != nil {
			return "", fmt.Errorf("%s: asking Redis for its size: %w", setup, err)
		}
		if n == 0 {
			return "", fmt.Errorf("%s: Redis holds no key after the login: the session is not stored there", setup)
		}
		r.logf("%s: Cookie header %d bytes, %d keys in Redis after one login", setup, len(cookie), n)
	}
	return cookie, nil
}

// preparePool sizes scenario 2's pool from a short calibration run (with
// tokens of its own, then thrown away) and mints it. warm is an already
// cached Authorization value for warm-ups.
func (r *runner) preparePool(ctx context.Context, sc *scenario, warm string) error {
	calib, err := mintAll(ctx, min(calibTokens, r.cfg.MaxPool), runtime.NumCPU(), r.world.mint)
	if err != nil {
		return err
	}
	cp := NewTokenPool(headerValues(calib))
	res, err := Run(ctx, RunOptions{
		URL: sc.edgeURL, Conns: r.cfg.Conns, Warmup: 300 * time.Millisecond, Duration: calibDuration,
		Exhausted: func() bool { return cp.Remaining() == 0 },
	}, freshSource{pool: cp, warm: warm})
	if err != nil {
		return err
	}
	measured := r.cfg.Duration * time.Duration(r.shares())
	n := max(poolSize(res.RPS(), measured, poolMargin, 4*r.cfg.Conns, r.cfg.MaxPool), r.cfg.MinPool)
	r.logf("scenario 2: calibrated at %.0f req/s with fresh tokens; minting %d tokens (≈ %.0f s)", res.RPS(), n, float64(n)*0.5e-3*2/float64(runtime.NumCPU()))
	start := time.Now()
	toks, err := mintAll(ctx, n, runtime.NumCPU(), r.world.mint)
	if err != nil {
		return err
	}
	r.logf("scenario 2: minted %d tokens in %s", n, time.Since(start).Round(100*time.Millisecond))
	sc.pool = NewTokenPool(headerValues(toks))
	sc.edge = freshSource{pool: sc.pool, warm: warm}
	sc.bare = cycleSource{pool: sc.pool, conns: r.cfg.Conns}
	return nil
}

// shares is how many equal shares scenario 2's pool is cut into: one per
// round, and one for the profiling run.
func (r *runner) shares() int {
	if r.cfg.Profile != "" {
		return r.cfg.Rounds + 1
	}
	return r.cfg.Rounds
}

// headerValues turns tokens into Authorization header values.
func headerValues(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = bearer(t)
	}
	return out
}

// measure runs the rounds: in each, every scenario as a paired run of bare
// Caddy and edgeauth taking turns in slices.
func (r *runner) measure(ctx context.Context, scenarios []*scenario, rep *report) error {
	bare := r.procs[setupBare]
	var idleRate float64 // redis-server CPU per second of wall time, doing nothing
	if r.redis != nil {
		idleRate = r.redisIdleRate(ctx)
		rep.redisIdle = time.Duration(idleRate * float64(time.Second))
	}
	opts := PairOptions{Conns: r.cfg.Conns, Warmup: r.cfg.Warmup, Duration: r.cfg.Duration, Slice: r.cfg.Slice}
	for round := 1; round <= r.cfg.Rounds; round++ {
		for i, sc := range scenarios {
			if sc.unavailable != "" {
				continue
			}
			sleep(ctx, pause)
			a, err := newSide(ctx, bare.URL(), sc.bare, r.cfg.Conns)
			if err != nil {
				return err
			}
			e, err := newSpreadSide(ctx, sc.edgeURLs, sc.edge, r.cfg.Conns)
			if err != nil {
				return err
			}
			o := opts
			if sc.pool != nil {
				// Each round may spend its share of the fresh tokens; the
				// last round keeps a reserve for requests in flight.
				limit := int64(sc.pool.Size()-2*r.cfg.Conns) * int64(round) / int64(r.shares())
				o.Exhausted = func() bool { taken, _ := sc.pool.Taken(); return taken >= limit }
			}
			cpuB, cpuE := bare.cpuTime(), r.edgeCPU(sc)
			var cpuR time.Duration
			cmdsR := int64(-1)
			if sc.setup == setupFleet {
				cpuR = r.redis.cpuTime()
				if n, err := r.redis.commandCalls(); err == nil {
					cmdsR = n
				}
			}
			began := time.Now()
			b, ed, err := RunPair(ctx, o, a, e)
			if err != nil {
				return err
			}
			ed.StoreIdle = time.Duration(idleRate * float64(time.Since(began)))
			if cpuB > 0 && cpuE > 0 {
				b.CPU, ed.CPU = bare.cpuTime()-cpuB, r.edgeCPU(sc)-cpuE
			}
			if cpuR > 0 {
				// Redis serves only edgeauth's side; no other work touches it.
				ed.StoreCPU = r.redis.cpuTime() - cpuR
			}
			ed.StoreCommands = -1
			if sc.setup == setupFleet {
				if n, err := r.redis.commandCalls(); err == nil && cmdsR >= 0 {
					ed.StoreCommands = n - cmdsR
				}
				if err := r.redis.alive(); err != nil {
					return err
				}
			}
			if err := bare.alive(); err != nil {
				return err
			}
			for _, s := range sc.edgeProcs {
				if err := r.procs[s].alive(); err != nil {
					return err
				}
			}
			for _, res := range []*Result{b, ed} {
				if res.Requests == 0 {
					return errors.New("no request completed during the measurement of scenario " + strconv.Itoa(sc.id))
				}
			}
			rep.rows[i].bare = append(rep.rows[i].bare, b)
			rep.rows[i].edge = append(rep.rows[i].edge, ed)
			r.logf("round %d scenario %d: bare %.0f req/s (p50 %s, Caddy CPU %s/req) · edgeauth %.0f req/s (p50 %s, Caddy CPU %s/req) · ratio %.3f",
				round, sc.id, b.RPS(), fmtDur(b.Hist.Percentile(0.5)), fmtDur(b.CPUPerRequest()),
				ed.RPS(), fmtDur(ed.Hist.Percentile(0.5)), fmtDur(ed.CPUPerRequest()), ed.RPS()/b.RPS())
		}
	}
	return nil
}

// redisIdleRate measures redis-server's CPU per second of wall time while
// no request is sent (its own timers, the gateways' idle link checks), so
// the report can tell what requests add. The fleet gateways stop their
// near-cache heartbeats after two idle seconds, so it waits that long.
func (r *runner) redisIdleRate(ctx context.Context) float64 {
	sleep(ctx, 2500*time.Millisecond)
	c0, t0 := r.redis.cpuTime(), time.Now()
	sleep(ctx, 2*time.Second)
	c1 := r.redis.cpuTime()
	if c0 <= 0 || c1 < c0 {
		return 0
	}
	rate := float64(c1-c0) / float64(time.Since(t0))
	r.logf("redis-server idle: %.2f ms of CPU per second", rate*1000)
	return rate
}

// edgeCPU is the CPU time used so far by the Caddy processes of the
// scenario's edgeauth side (three for scenario 7), or 0 when unknown.
func (r *runner) edgeCPU(sc *scenario) time.Duration {
	var sum time.Duration
	for _, s := range sc.edgeProcs {
		t := r.procs[s].cpuTime()
		if t <= 0 {
			return 0
		}
		sum += t
	}
	return sum
}

// close stops everything run started and removes the temporary directory.
func (r *runner) close() {
	for _, p := range r.procs {
		p.stop()
	}
	if r.up != nil {
		r.up.stop()
	}
	if r.redis != nil {
		r.redis.stop()
	}
	if r.world != nil {
		r.world.close()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}
