package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeResult is a run that completed n requests in one second with every
// latency equal to lat.
func fakeResult(n int, lat time.Duration) *Result {
	r := &Result{Requests: uint64(n), Elapsed: time.Second}
	for range n {
		r.Hist.Record(lat)
	}
	return r
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median(3,1,2) = %v", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("median(4,1,3,2) = %v, want 2 (mean of 2 and 3, truncated)", got)
	}
	if got := median([]float64(nil)); got != 0 {
		t.Errorf("median() = %v", got)
	}
}

func TestTableRowsAndVerdicts(t *testing.T) {
	rep := &report{cfg: config{Command: "go run ./cmd/edgeauth-load", Rounds: 2, Conns: 32, Duration: time.Second}}
	ok := &row{info: scenarioList[0],
		bare: []*Result{fakeResult(1000, 1000*time.Microsecond), fakeResult(1200, 900*time.Microsecond)},
		edge: []*Result{fakeResult(980, 1030*time.Microsecond), fakeResult(1140, 950*time.Microsecond)}}
	missed := &row{info: scenarioList[1],
		bare:     []*Result{fakeResult(1000, time.Millisecond)},
		edge:     []*Result{fakeResult(500, 2*time.Millisecond)},
		poolSize: 900, taken: 1000, reused: 100}
	gone := &row{info: scenarioList[2], unavailable: "not available: login is not wired"}
	fleet := &row{info: scenarioList[5], cookieBytes: 164,
		bare: []*Result{fakeResult(1000, time.Millisecond)},
		edge: []*Result{fakeResult(900, time.Millisecond)}}
	fleet.edge[0].Completed, fleet.edge[0].StoreCPU = 1000, 20*time.Millisecond
	rep.rows = []*row{ok, missed, gone, fleet}

	if r := ok.ratio(); r < 0.965 || r > 0.966 { // rounds 0.98 and 0.95
		t.Errorf("ratio %v, want the median of 0.98 and 0.95", r)
	}
	table := rep.table()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 6 {
		t.Fatalf("table has %d lines, want header, rule and 4 rows:\n%s", len(lines), table)
	}
	for _, want := range []string{"| 1 | one repeated bearer token | 1100 | 1060 | 0.965 | ≥ 0.95 |", "met; rounds 0.980, 0.950", "+40 µs"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row 1 lacks %q:\n%s", want, lines[2])
		}
	}
	for _, want := range []string{"0.500", "**missed**", "900 fresh tokens minted, 1000 sent to edgeauth, 100 reused", "100 tokens reused (throughput optimistic)"} {
		if !strings.Contains(lines[3], want) {
			t.Errorf("row 2 lacks %q:\n%s", want, lines[3])
		}
	}
	if !strings.Contains(lines[4], "| — | — | — | ≥ 0.90 |") || !strings.Contains(lines[4], "not available: login is not wired") {
		t.Errorf("unavailable row wrong:\n%s", lines[4])
	}
	for _, want := range []string{"| 6 | fleet: browser session cookie with the Redis store | 1000 | 900 | 0.900 | ≥ 0.88 |", "met; rounds 0.900; Cookie header 164 bytes; redis-server CPU 20 µs per request"} {
		if !strings.Contains(lines[5], want) {
			t.Errorf("row 6 lacks %q:\n%s", want, lines[5])
		}
	}
	if strings.Contains(lines[2], "Cookie header") || strings.Contains(lines[2], "redis-server") {
		t.Errorf("row 1 carries no cookie but mentions one:\n%s", lines[2])
	}
	if ps := rep.problems(); len(ps) != 1 || !strings.HasPrefix(ps[0], "scenario 2:") {
		t.Errorf("problems %q, want one about scenario 2", ps)
	}
}

func TestBenchFileKeepsNotes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	rep := &report{cfg: config{Command: "go run ./cmd/edgeauth-load -rounds 2", Rounds: 2}, rows: []*row{{info: scenarioList[0], unavailable: "not available: x"}}}
	if err := writeBenchFile(path, rep); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "`go run ./cmd/edgeauth-load -rounds 2`") || !strings.HasSuffix(string(b), keepMarker+"\n") {
		t.Fatalf("first write lacks the command or does not end with the marker:\n%s", b)
	}
	notes := "\n\n## Profile\n\nhand-written notes\n"
	if err := os.WriteFile(path, append(b[:len(b)-1], notes...), 0o644); err != nil {
		t.Fatal(err)
	}
	rep.cfg.Command = "go run ./cmd/edgeauth-load -rounds 3"
	if err := writeBenchFile(path, rep); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	s := string(b)
	if !strings.Contains(s, "-rounds 3") || strings.Contains(s, "-rounds 2`") {
		t.Errorf("the run part was not replaced:\n%s", s)
	}
	if !strings.HasSuffix(s, keepMarker+notes) || strings.Count(s, keepMarker) != 1 {
		t.Errorf("the notes were not kept once after the marker:\n%s", s)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, out, err := parseFlags([]string{"-scenarios", "5,1,5", "-duration", "1s", "-out", "B.md"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Scenarios) != 2 || cfg.Scenarios[0] != 1 || cfg.Scenarios[1] != 5 || out != "B.md" || cfg.Duration != time.Second {
		t.Fatalf("parsed %+v, out %q", cfg, out)
	}
	if cfg.Command != "go run ./cmd/edgeauth-load -scenarios 5,1,5 -duration 1s -out B.md" {
		t.Fatalf("command %q", cfg.Command)
	}
	cfg, _, err = parseFlags(nil)
	if err != nil || !slices.Equal(cfg.Scenarios, []int{1, 2, 3, 4, 5, 6, 7, 9}) {
		t.Fatalf("default scenarios %v (%v), want 1 to 7 and 9", cfg.Scenarios, err)
	}
	cfg, _, err = parseFlags([]string{"-scenarios", "6,3"})
	if err != nil || !slices.Equal(cfg.Scenarios, []int{3, 6}) {
		t.Fatalf("-scenarios 6,3 gave %v (%v)", cfg.Scenarios, err)
	}
	cfg, _, err = parseFlags([]string{"-caddy", "bin/caddy"})
	if err != nil || !filepath.IsAbs(cfg.Caddy) || !strings.HasSuffix(cfg.Caddy, filepath.Join("bin", "caddy")) {
		t.Fatalf("-caddy bin/caddy gave %q (%v), want an absolute path", cfg.Caddy, err)
	}
	if cfg, _, err = parseFlags([]string{"-min-pool", "30000"}); err != nil || cfg.MinPool != 30000 {
		t.Fatalf("-min-pool 30000 gave %d (%v)", cfg.MinPool, err)
	}
	for _, bad := range [][]string{
		{"-scenarios", "10"}, {"-scenarios", "0"}, {"-scenarios", "1,x"}, {"-scenarios", ""}, {"-rounds", "0"},
		{"-duration", "1ms"}, {"-conns", "0"}, {"-max-pool", "5"}, {"-min-pool", "-1"},
		{"-min-pool", "300000"}, {"extra"},
	} {
		if _, _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

func TestBadSignatureKeepsShape(t *testing.T) {
	tok := "aaaa.bbbb.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	bad := badSignature(tok)
	if bad == tok || len(bad) != len(tok) || bad[:10] != tok[:10] || bad[len(bad)-9:] != tok[len(tok)-9:] {
		t.Fatalf("badSignature(%q) = %q: want one changed character inside the signature", tok, bad)
	}
	if badSignature(bad) == bad {
		t.Fatal("badSignature must change an already changed character too")
	}
}

func TestCPUTimeOfAProcess(t *testing.T) {
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p := &caddyProc{cmd: &exec.Cmd{Process: self}}
	before := p.cpuTime()
	if before <= 0 {
		t.Fatalf("cpu time of a running process: %s", before)
	}
	// Spin until the process has used 50ms more CPU. On a loaded machine that
	// takes longer than 50ms of wall time, so the bound is generous; a cpuTime
	// that does not grow with work fails it.
	x, after := 0, before
	for start := time.Now(); after-before < 50*time.Millisecond && time.Since(start) < 20*time.Second; x++ {
		if x%100000 == 0 {
			after = p.cpuTime()
		}
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("cpu time %s then %s after 20s of busy loop (%d turns)", before, after, x)
	}
	r := &Result{Completed: 1000, CPU: 50 * time.Millisecond}
	if r.CPUPerRequest() != 50*time.Microsecond || (&Result{}).CPUPerRequest() != 0 {
		t.Fatalf("CPUPerRequest %s", r.CPUPerRequest())
	}
	if got := fmtCPU(100*time.Microsecond, 130*time.Microsecond); got != "100 µs → 130 µs (+30 µs)" {
		t.Fatalf("fmtCPU: %q", got)
	}
}

// TestParseRedisCPU: INFO cpu's two process figures are added with
// microsecond precision; the children's and main thread's are not.
func TestParseRedisCPU(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:0.012345\r\nused_cpu_user:1.000001\r\nused_cpu_sys_children:5.0\r\nused_cpu_sys_main_thread:0.01\r\n"
	d, ok := parseRedisCPU(info)
	if !ok || d != 1012346*time.Microsecond {
		t.Fatalf("parseRedisCPU = %v, %v; want 1.012346s", d, ok)
	}
	if _, ok := parseRedisCPU("# CPU\r\nused_cpu_sys:x\r\n"); ok {
		t.Error("a malformed INFO cpu was accepted")
	}
}

// TestStoreCPUAboveIdle: what Redis uses idle in the same wall time is
// taken off before dividing by the requests, never going below zero.
func TestStoreCPUAboveIdle(t *testing.T) {
	r := &row{edge: []*Result{
		{Completed: 1000, StoreCPU: 5 * time.Millisecond, StoreIdle: 4 * time.Millisecond},
		{Completed: 1000, StoreCPU: 3 * time.Millisecond, StoreIdle: 4 * time.Millisecond},
		{Completed: 1000, StoreCPU: 6 * time.Millisecond, StoreIdle: 4 * time.Millisecond},
	}}
	got, ok := r.storeCPUAboveIdle()
	if !ok || got != time.Microsecond {
		t.Fatalf("storeCPUAboveIdle = %v, %v; want the median 1µs", got, ok)
	}
	r.edge[0].StoreIdle = 0
	if _, ok := r.storeCPUAboveIdle(); ok {
		t.Error("reported without an idle rate")
	}
}
