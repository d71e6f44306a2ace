package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// gather returns every edgeauth series of reg as "name{l=v,…}" → value
// (counter, gauge, or a histogram's sample count).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "caddy_edgeauth_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[seriesKey(mf.GetName(), m.GetLabel())] = value(mf.GetType(), m)
		}
	}
	return out
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + "=" + l.GetValue()
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	switch typ {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

func decisionKey(provider string, r decision.Reason) string {
	return fmt.Sprintf("caddy_edgeauth_decisions_total{outcome=%s,provider=%s,reason=%s}", r.Outcome(), provider, r)
}

func newRegistry(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return reg, m
}

func TestDecisionsAreCountedWithTheirOutcome(t *testing.T) {
	reg, m := newRegistry(t)
	before := gather(t, reg)
	for i := 0; i < 3; i++ {
		m.Decision("decisions-a", decision.ReasonInvalidToken)
	}
	m.Decision("decisions-a", decision.ReasonAuthorized)
	m.Decisions("decisions-b").Decision(decision.ReasonInsufficientScope)
	m.Decision("", decision.ReasonNoCredential)
	after := gather(t, reg)

	want := map[string]float64{
		decisionKey("decisions-a", decision.ReasonInvalidToken):      3,
		decisionKey("decisions-a", decision.ReasonAuthorized):        1,
		decisionKey("decisions-b", decision.ReasonInsufficientScope): 1,
		decisionKey("", decision.ReasonNoCredential):                 1,
	}
	for k, d := range want {
		if got := after[k] - before[k]; got != d {
			t.Errorf("%s grew by %v, want %v", k, got, d)
		}
	}
	// Every reason of a provider exists from the first decision on, at
	// zero, so that rate() and absent() work without waiting for traffic.
	n := 0
	for k, v := range after {
		if strings.Contains(k, "provider=decisions-a,") {
			n++
			if !strings.Contains(k, "reason=invalid_token") && !strings.Contains(k, "reason=authorized") && v != 0 {
				t.Errorf("%s = %v, want 0", k, v)
			}
		}
	}
	if n != decision.NumReasons {
		t.Errorf("provider decisions-a has %d series, want one per reason (%d)", n, decision.NumReasons)
	}
	if !strings.Contains(decisionKey("x", decision.ReasonKeysUnavailable), "outcome=unavailable") {
		t.Error("keys_unavailable does not map to outcome unavailable")
	}
}

// TestCountsSurviveReload: a new config brings a new registry; the counts
// carry on from the old one instead of restarting at zero.
func TestCountsSurviveReload(t *testing.T) {
	oldReg, oldM := newRegistry(t)
	oldM.Decision("reload", decision.ReasonAuthorized)
	oldM.TokenCache(true)
	oldVals := gather(t, oldReg)

	newReg, newM := newRegistry(t)
	if _, err := New(newReg); err != nil { // a second module of the same config
		t.Fatalf("New on a registry that already holds the collectors: %v", err)
	}
	if err := newM.ObserveProviders(func() []ProviderState { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := newM.ObserveProviders(func() []ProviderState { return nil }); err != nil {
		t.Fatalf("ObserveProviders twice on one registry: %v", err)
	}
	newVals := gather(t, newReg)
	for _, k := range []string{decisionKey("reload", decision.ReasonAuthorized), "caddy_edgeauth_token_cache_requests_total{result=hit}"} {
		if oldVals[k] == 0 || newVals[k] != oldVals[k] {
			t.Errorf("%s: %v in the old registry, %v in the new one; want the same non-zero count", k, oldVals[k], newVals[k])
		}
	}
	newM.Decision("reload", decision.ReasonAuthorized)
	if got := gather(t, newReg)[decisionKey("reload", decision.ReasonAuthorized)]; got != oldVals[decisionKey("reload", decision.ReasonAuthorized)]+1 {
		t.Errorf("after one more decision: %v", got)
	}
}

func TestNewRefusesAConflictingCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "edgeauth", Name: "decisions_total", Help: "someone else's",
	}, []string{"route"}))
	if _, err := New(reg); err == nil {
		t.Fatal("New accepted a registry where decisions_total has other labels")
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Decision("p", decision.ReasonAuthorized)
	m.Decisions("p").Decision(decision.ReasonAuthorized)
	m.TokenCache(true)
	m.STSExchange("s", decision.STSOK, time.Second)
	m.STSCache(false)
	m.SessionRefresh(true)
	if err := m.ObserveProviders(nil); err != nil {
		t.Fatal(err)
	}
	unexported, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := unexported.ObserveProviders(func() []ProviderState { return nil }); err != nil {
		t.Fatal(err)
	}
	unexported.Decision("p", decision.Reason(200)) // out of range: ignored
}

func TestOtherCounters(t *testing.T) {
	reg, m := newRegistry(t)
	before := gather(t, reg)
	m.TokenCache(true)
	m.TokenCache(true)
	m.TokenCache(false)
	m.STSCache(true)
	m.STSCache(false)
	m.STSCache(false)
	m.SessionRefresh(true)
	m.SessionRefresh(false)
	m.STSExchange("alibaba-other", decision.STSOK, 40*time.Millisecond)
	m.STSExchange("alibaba-other", decision.STSUnavailable, 5*time.Second)
	m.STSExchange("alibaba-other", decision.STSForbidden, 30*time.Millisecond)
	after := gather(t, reg)
	want := map[string]float64{
		"caddy_edgeauth_token_cache_requests_total{result=hit}":                      2,
		"caddy_edgeauth_token_cache_requests_total{result=miss}":                     1,
		"caddy_edgeauth_sts_cache_requests_total{result=hit}":                        1,
		"caddy_edgeauth_sts_cache_requests_total{result=miss}":                       2,
		"caddy_edgeauth_session_refreshes_total{result=ok}":                          1,
		"caddy_edgeauth_session_refreshes_total{result=error}":                       1,
		"caddy_edgeauth_sts_exchanges_total{result=ok,sts=alibaba-other}":            1,
		"caddy_edgeauth_sts_exchanges_total{result=unavailable,sts=alibaba-other}":   1,
		"caddy_edgeauth_sts_exchanges_total{result=forbidden,sts=alibaba-other}":     1,
		"caddy_edgeauth_sts_exchanges_total{result=invalid_token,sts=alibaba-other}": 0,
		"caddy_edgeauth_sts_exchange_duration_seconds{sts=alibaba-other}":            3,
	}
	for k, d := range want {
		if _, ok := after[k]; !ok {
			t.Errorf("series %s is missing", k)
			continue
		}
		if got := after[k] - before[k]; got != d {
			t.Errorf("%s grew by %v, want %v", k, got, d)
		}
	}
}

func TestProviderStateIsReadOnScrape(t *testing.T) {
	reg, m := newRegistry(t)
	calls := 0
	states := []ProviderState{
		{Name: "up", Status: oidc.Status{MetadataLoaded: true, KeysLoaded: 2, JWKSFetches: 7, LastRefresh: time.Now().Add(-90 * time.Second), KeyAge: 90 * time.Second}},
		{Name: "down", Status: oidc.Status{JWKSFetches: 3, LastError: "fetching JWKS: connection refused"}},
		{Name: "up", Status: oidc.Status{KeysLoaded: 99}}, // a duplicate is dropped, not a scrape failure
	}
	if err := m.ObserveProviders(func() []ProviderState { calls++; return states }); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	if calls != 1 {
		t.Errorf("the source was called %d times for one scrape", calls)
	}
	want := map[string]float64{
		"caddy_edgeauth_jwks_fetches_total{provider=up}":           7,
		"caddy_edgeauth_jwks_keys{provider=up}":                    2,
		"caddy_edgeauth_jwks_key_age_seconds{provider=up}":         90,
		"caddy_edgeauth_provider_last_fetch_failed{provider=up}":   0,
		"caddy_edgeauth_jwks_fetches_total{provider=down}":         3,
		"caddy_edgeauth_jwks_keys{provider=down}":                  0,
		"caddy_edgeauth_provider_last_fetch_failed{provider=down}": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["caddy_edgeauth_jwks_key_age_seconds{provider=down}"]; ok {
		t.Error("key age is reported for a provider whose keys never loaded")
	}

	// The source is read again on the next scrape: state changes show.
	states = states[:1]
	states[0].Status.JWKSFetches = 8
	got = gather(t, reg)
	if got["caddy_edgeauth_jwks_fetches_total{provider=up}"] != 8 {
		t.Errorf("second scrape: fetches %v, want 8", got["caddy_edgeauth_jwks_fetches_total{provider=up}"])
	}
	if _, ok := got["caddy_edgeauth_jwks_keys{provider=down}"]; ok {
		t.Error("a provider that left the config is still reported")
	}
}

func TestLabelCardinalityIsBounded(t *testing.T) {
	c := newCollectors() // private collectors: this test fills the name table
	m := &Metrics{c: c}
	for i := 0; i < maxNames+50; i++ {
		name := fmt.Sprintf("p%d", i)
		m.Decision(name, decision.ReasonInvalidToken)
		m.STSExchange(name, decision.STSOK, time.Millisecond)
	}
	if n := len(*c.byProvider.Load()); n > maxNames {
		t.Errorf("%d provider label sets, want at most %d", n, maxNames)
	}
	if n := len(*c.bySTS.Load()); n > maxNames+1 {
		t.Errorf("%d STS label sets, want at most %d", n, maxNames+1)
	}
	// The overflow is counted, under the empty provider.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c.decisions)
	got := gather(t, reg)
	if v := got[decisionKey("", decision.ReasonInvalidToken)]; v < 50 {
		t.Errorf("overflow decisions under the empty provider: %v, want ≥ 50", v)
	}
}

func TestRequestPathDoesNotAllocate(t *testing.T) {
	_, m := newRegistry(t)
	m.Decision("alloc", decision.ReasonAuthorized)
	m.STSExchange("alloc", decision.STSOK, time.Millisecond)
	pd := m.Decisions("alloc")
	cases := map[string]func(){
		"Decision":             func() { m.Decision("alloc", decision.ReasonAuthorized) },
		"Decision no provider": func() { m.Decision("", decision.ReasonNoCredential) },
		"ProviderDecisions":    func() { pd.Decision(decision.ReasonInvalidToken) },
		"TokenCache":           func() { m.TokenCache(true) },
		"STSCache":             func() { m.STSCache(false) },
		"STSExchange":          func() { m.STSExchange("alloc", decision.STSOK, time.Millisecond) },
		"nil":                  func() { (*Metrics)(nil).Decision("alloc", decision.ReasonAuthorized) },
	}
	for name, f := range cases {
		if a := testing.AllocsPerRun(1000, f); a != 0 {
			t.Errorf("%s allocates %v times per call", name, a)
		}
	}
}
