package main

import (
	"strings"
	"testing"
	"time"
)

// cpuResult is a run whose server used cpu per request.
func cpuResult(cpu time.Duration) *Result {
	r := fakeResult(1000, time.Millisecond)
	r.Completed, r.CPU = 1000, 1000*cpu
	return r
}

// TestScenarioTwoCPUAgainstScenarioOne: scenario 2's line gives its added
// CPU (over bare Caddy) minus scenario 1's, against its 50 µs budget, and
// says when it is over; without scenario 1 in the run it says so.
func TestScenarioTwoCPUAgainstScenarioOne(t *testing.T) {
	cached := &row{info: scenarioList[0], bare: []*Result{cpuResult(100 * time.Microsecond)}, edge: []*Result{cpuResult(120 * time.Microsecond)}}
	within := &row{info: scenarioList[1], bare: []*Result{cpuResult(104 * time.Microsecond)}, edge: []*Result{cpuResult(170 * time.Microsecond)}}
	rep := &report{rows: []*row{cached, within}}
	if got, want := rep.cpuOverCached(within), "CPU over scenario 1: +46 µs (budget +50 µs: within)"; got != want {
		t.Errorf("within budget: %q, want %q", got, want)
	}
	if !strings.Contains(rep.table(), "CPU over scenario 1: +46 µs") {
		t.Errorf("table lacks the comparison:\n%s", rep.table())
	}
	if got := rep.cpuOverCached(cached); got != "" {
		t.Errorf("scenario 1 compared with itself: %q", got)
	}
	over := &row{info: scenarioList[1], bare: []*Result{cpuResult(100 * time.Microsecond)}, edge: []*Result{cpuResult(200 * time.Microsecond)}}
	rep.rows[1] = over
	if got, want := rep.cpuOverCached(over), "CPU over scenario 1: +80 µs (budget +50 µs: **over**)"; got != want {
		t.Errorf("over budget: %q, want %q", got, want)
	}
	alone := &report{rows: []*row{over}}
	if got := alone.cpuOverCached(over); !strings.Contains(got, "run scenario 1 too") {
		t.Errorf("without scenario 1: %q", got)
	}
}

// TestCPUCostsMeasured: the report's first lines give one RS256 and one
// ES256 verification's CPU time, measured in this process, and a new
// token's whole verification, which includes an RS256 check.
func TestCPUCostsMeasured(t *testing.T) {
	c, err := measureCPUCosts()
	if err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]time.Duration{"RS256": c.RS256, "ES256": c.ES256, "new token": c.NewToken} {
		if d <= 0 || d > 50*time.Millisecond {
			t.Errorf("%s: %s per verification, want a positive figure below 50ms", name, d)
		}
	}
	rep := &report{costs: &c, cfg: config{Command: "x"}}
	text := rep.summaryText()
	lines := strings.SplitN(text, "\n", 3)
	if !strings.Contains(lines[1], "RS256 (RSA-2048) "+fmtMicros(c.RS256)) || !strings.Contains(lines[1], "ES256 (P-256) "+fmtMicros(c.ES256)) {
		t.Errorf("second line of the report lacks the costs:\n%s", text)
	}
}
