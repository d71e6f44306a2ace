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

// TestBeyondTheSignatureCheck: scenarios 2 and 8 also say what is left of
// their CPU over scenario 1 once their one signature check (RS256, ES256,
// as measured for the report) is taken out, next to the budget verdict;
// without measured costs only the verdict is there.
func TestBeyondTheSignatureCheck(t *testing.T) {
	cached := &row{info: scenarioList[0], bare: []*Result{cpuResult(100 * time.Microsecond)}, edge: []*Result{cpuResult(120 * time.Microsecond)}}
	newToken := &row{info: mustScenario(t, 2), bare: []*Result{cpuResult(100 * time.Microsecond)}, edge: []*Result{cpuResult(186 * time.Microsecond)}}
	dpop := &row{info: mustScenario(t, 8), bare: []*Result{cpuResult(110 * time.Microsecond)}, edge: []*Result{cpuResult(210 * time.Microsecond)}}
	costs := &cpuCosts{RS256: 28600 * time.Nanosecond, ES256: 57700 * time.Nanosecond}
	rep := &report{rows: []*row{cached, newToken, dpop}, costs: costs}
	for _, tc := range []struct {
		r    *row
		want string
	}{
		{newToken, "CPU over scenario 1: +66 µs (budget +50 µs: **over**); beyond the signature check: +37.4 µs (CPU over scenario 1 minus one RS256 check, 28.6 µs)"},
		{dpop, "CPU over scenario 1: +80 µs (budget +45 µs: **over**); beyond the signature check: +22.3 µs (CPU over scenario 1 minus one ES256 check, 57.7 µs)"},
	} {
		if got := rep.cpuOverCached(tc.r); got != tc.want {
			t.Errorf("scenario %d: %q, want %q", tc.r.info.id, got, tc.want)
		}
		if !strings.Contains(rep.table(), tc.want) {
			t.Errorf("table lacks %q:\n%s", tc.want, rep.table())
		}
	}
	rep.costs = nil
	if got, want := rep.cpuOverCached(dpop), "CPU over scenario 1: +80 µs (budget +45 µs: **over**)"; got != want {
		t.Errorf("without costs: %q, want %q", got, want)
	}
}

func mustScenario(t *testing.T, id int) scenarioInfo {
	t.Helper()
	s, err := scenarioByID(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
