package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is the outcome of a whole invocation.
type report struct {
	cfg                   config
	date                  time.Time
	rows                  []*row
	loadBefore, loadAfter string        // /proc/loadavg's 1-minute figure
	memory                []string      // each Caddy's peak resident memory
	redisIdle             time.Duration // redis-server's CPU per second while idle
	costs                 *cpuCosts     // single verifications' CPU time; nil when not measured
}

// loadAverage returns the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// row is one scenario's measurements over the rounds.
type row struct {
	info        scenarioInfo
	unavailable string
	bare, edge  []*Result
	cookieBytes int         // length of the replayed Cookie header (scenarios 3, 6 and 7)
	dpop        *dpopClient // scenario 8: the generator's proof signing cost
	edgeProcs   []string    // the Caddy processes of the edgeauth side
	poolSize    int
	taken       int64
	reused      int64
	signatures  float64       // scenario 9: assertions signed
	signedOver  time.Duration // scenario 9: the time they were counted over
}

func newReport(cfg config, scenarios []*scenario) *report {
	rep := &report{cfg: cfg, date: time.Now().UTC(), loadBefore: loadAverage()}
	for _, sc := range scenarios {
		rep.rows = append(rep.rows, &row{info: sc.scenarioInfo, unavailable: sc.unavailable, cookieBytes: sc.cookieBytes, dpop: sc.dpop, edgeProcs: sc.edgeProcs})
	}
	return rep
}

// summary is the median over rounds of one side's figures.
type summary struct {
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // server CPU per request
}

func summarize(rs []*Result) summary {
	rps := make([]float64, len(rs))
	p50 := make([]time.Duration, len(rs))
	p99 := make([]time.Duration, len(rs))
	cpu := make([]time.Duration, len(rs))
	for i, r := range rs {
		rps[i], p50[i], p99[i], cpu[i] = r.RPS(), r.Hist.Percentile(0.50), r.Hist.Percentile(0.99), r.CPUPerRequest()
	}
	return summary{median(rps), median(p50), median(p99), median(cpu)}
}

// median returns the median (the mean of the middle two for an even count).
func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratios returns edgeauth's throughput over bare Caddy's in each round.
// Each round's two runs ran back to back, so what else the machine was
// doing weighs on both alike.
func (r *row) ratios() []float64 {
	var out []float64
	for i := range min(len(r.bare), len(r.edge)) {
		if b := r.bare[i].RPS(); b > 0 {
			out = append(out, r.edge[i].RPS()/b)
		}
	}
	return out
}

// ratio is the median of the per-round ratios.
func (r *row) ratio() float64 { return median(r.ratios()) }

// endedEarly says how much was measured when fresh tokens ran out before
// the planned time, or "".
func (r *row) endedEarly() string {
	var measured time.Duration
	early := false
	for _, res := range r.edge {
		measured += res.Elapsed
		early = early || res.EndedEarly
	}
	if !early {
		return ""
	}
	return fmt.Sprintf("fresh tokens ran out: edgeauth measured %.1fs over %d rounds", measured.Seconds(), len(r.edge))
}

// problems lists what makes a row's numbers suspect.
func (r *row) problems() []string {
	var out []string
	var unexpected, failed uint64
	for _, res := range append(slices.Clone(r.bare), r.edge...) {
		unexpected += res.Unexpected
		failed += res.Failed
	}
	if unexpected > 0 {
		out = append(out, fmt.Sprintf("%d answers with an unexpected status", unexpected))
	}
	if failed > 0 {
		out = append(out, fmt.Sprintf("%d transport errors", failed))
	}
	if r.reused > 0 {
		out = append(out, fmt.Sprintf("%d tokens reused (throughput optimistic)", r.reused))
	}
	return out
}

// problems lists every row's problems.
func (rep *report) problems() []string {
	var out []string
	for _, r := range rep.rows {
		for _, p := range r.problems() {
			out = append(out, fmt.Sprintf("scenario %d: %s", r.info.id, p))
		}
	}
	return out
}

// table renders the results as a Markdown table.
func (rep *report) table() string {
	var b strings.Builder
	b.WriteString("| # | scenario | bare req/s | edgeauth req/s | ratio | target | bare p50 / p99 | edgeauth p50 / p99 | added p50 | Caddy CPU per request: bare → edgeauth | notes |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range rep.rows {
		if r.unavailable != "" {
			fmt.Fprintf(&b, "| %d | %s | — | — | — | ≥ %.2f | — | — | — | — | %s |\n", r.info.id, r.info.name, r.info.target, escapeCell(r.unavailable))
			continue
		}
		bs, es := summarize(r.bare), summarize(r.edge)
		ratio := r.ratio()
		verdict := "met"
		if ratio < r.info.target {
			verdict = "**missed**"
		}
		notes := []string{verdict, "rounds " + r.roundRatios()}
		if r.cookieBytes > 0 {
			notes = append(notes, fmt.Sprintf("Cookie header %d bytes", r.cookieBytes))
		}
		if cpu := r.storeCPU(); cpu > 0 {
			note := fmt.Sprintf("redis-server CPU %s per request (not in the CPU column)", fmtStoreCPU(cpu))
			if above, ok := r.storeCPUAboveIdle(); ok {
				note = fmt.Sprintf("redis-server CPU %s per request, %s above its idle rate of %.1f ms/s (not in the CPU column)",
					fmtStoreCPU(cpu), fmtStoreCPU(above), float64(rep.redisIdle)/float64(time.Millisecond))
			}
			notes = append(notes, note)
		}
		if cmds, ok := r.storeCommands(); ok {
			notes = append(notes, fmt.Sprintf("Redis commands per request %.4f", cmds))
		}
		if len(r.edgeProcs) > 1 {
			notes = append(notes, fmt.Sprintf("CPU column: the sum over %d edgeauth instances", len(r.edgeProcs)))
		}
		if r.dpop != nil && r.dpop.signCost() > 0 {
			notes = append(notes, fmt.Sprintf("the load generator spends %s (wall) signing each ES256 proof, on the same CPUs (not in the CPU column)", fmtDur(r.dpop.signCost())))
		}
		if r.poolSize > 0 {
			notes = append(notes, fmt.Sprintf("%d fresh tokens minted, %d sent to edgeauth, %d reused", r.poolSize, r.taken, r.reused))
		}
		notes = append(notes, rep.assertionNotes(r)...)
		if short := r.endedEarly(); short != "" {
			notes = append(notes, short)
		}
		if over := rep.cpuOverCached(r); over != "" {
			notes = append(notes, over)
		}
		notes = append(notes, r.problems()...)
		fmt.Fprintf(&b, "| %d | %s | %.0f | %.0f | %.3f | ≥ %.2f | %s / %s | %s / %s | %s | %s | %s |\n",
			r.info.id, r.info.name, bs.rps, es.rps, ratio, r.info.target,
			fmtDur(bs.p50), fmtDur(bs.p99), fmtDur(es.p50), fmtDur(es.p99),
			fmtAdded(es.p50-bs.p50), fmtCPU(bs.cpu, es.cpu), escapeCell(strings.Join(notes, "; ")))
	}
	return b.String()
}

// storeCPUAboveIdle is the median over rounds of the session store
// server's CPU per edgeauth request beyond what it uses idle in the same
// time (never below 0), and whether it was measured.
func (r *row) storeCPUAboveIdle() (time.Duration, bool) {
	var per []time.Duration
	for _, res := range r.edge {
		if res.StoreCPU <= 0 || res.StoreIdle <= 0 || res.Completed == 0 {
			return 0, false
		}
		per = append(per, max(res.StoreCPU-res.StoreIdle, 0)/time.Duration(res.Completed))
	}
	return median(per), len(per) > 0
}

// storeCommands is the session store server's commands per edgeauth
// request over all rounds (warm-ups included, like the CPU figures), and
// whether it was measured.
func (r *row) storeCommands() (float64, bool) {
	var cmds, reqs int64
	for _, res := range r.edge {
		if res.StoreCommands < 0 {
			return 0, false
		}
		cmds += res.StoreCommands
		reqs += int64(res.Completed)
	}
	if reqs == 0 || len(r.edge) == 0 {
		return 0, false
	}
	return float64(cmds) / float64(reqs), true
}

// fmtStoreCPU prints a small per-request CPU time with enough precision
// (fmtDur rounds to whole microseconds).
func fmtStoreCPU(d time.Duration) string {
	if d < 10*time.Microsecond {
		return fmt.Sprintf("%.2f µs", float64(d)/float64(time.Microsecond))
	}
	return fmtDur(d)
}

// storeCPU is the median over rounds of the session store server's CPU
// time per edgeauth request, or 0 when not measured.
func (r *row) storeCPU() time.Duration {
	var per []time.Duration
	for _, res := range r.edge {
		if res.StoreCPU > 0 && res.Completed > 0 {
			per = append(per, res.StoreCPU/time.Duration(res.Completed))
		}
	}
	return median(per)
}

// roundRatios lists the ratio of each round.
func (r *row) roundRatios() string {
	var parts []string
	for _, x := range r.ratios() {
		parts = append(parts, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(parts, ", ")
}

// fmtDur formats a latency in microseconds.
func fmtDur(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

// fmtCPU formats the CPU per request of both sides and the difference.
func fmtCPU(bare, edge time.Duration) string {
	if bare <= 0 || edge <= 0 {
		return "—"
	}
	return fmt.Sprintf("%s → %s (%s)", fmtDur(bare), fmtDur(edge), fmtAdded(edge-bare))
}

// fmtAdded formats a latency difference with its sign.
func fmtAdded(d time.Duration) string {
	return fmt.Sprintf("%+.0f µs", float64(d)/float64(time.Microsecond))
}

func escapeCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// machine describes where the run happened.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = ", Linux " + strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (nproc), %s%s, %s %s/%s", runtime.NumCPU(), cpu, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// summaryText is the run description, the table and what went wrong.
func (rep *report) summaryText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "- Machine: %s. The generator, both Caddys, the upstream and the demo provider share these CPUs; nothing is pinned.\n", machine())
	if rep.costs != nil {
		b.WriteString(rep.costs.costLine())
	}
	fmt.Fprintf(&b, "- Command: `%s`\n", rep.cfg.Command)
	fmt.Fprintf(&b, "- Date: %s\n", rep.date.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Load average (1 min) before / after: %s / %s (other work on the machine shows up as noise between rounds).\n", rep.loadBefore, rep.loadAfter)
	fmt.Fprintf(&b, "- Each round and scenario: %d connections per side, %s warm-up per side, then bare and edgeauth take turns in %s slices until each side has %s measured; %d rounds. Throughput and latency are medians over rounds; the ratio is the median of the per-round ratios.\n",
		rep.cfg.Conns, rep.cfg.Warmup, rep.cfg.Slice, rep.cfg.Duration, rep.cfg.Rounds)
	if len(rep.memory) > 0 {
		fmt.Fprintf(&b, "- Peak resident memory of each Caddy (VmHWM) after the rounds: %s.\n", strings.Join(rep.memory, ", "))
	}
	b.WriteString("\n")
	b.WriteString(rep.table())
	if ps := rep.problems(); len(ps) > 0 {
		b.WriteString("\nProblems during the measurement:\n\n")
		for _, p := range ps {
			fmt.Fprintf(&b, "- %s\n", p)
		}
	}
	return b.String()
}
