package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

func benchMetrics(b *testing.B) *Metrics {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	m.Decision("bench", decision.ReasonAuthorized)
	return m
}

// BenchmarkDecision is the cost the handler pays per request.
func BenchmarkDecision(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Decision("bench", decision.ReasonAuthorized)
	}
}

// BenchmarkDecisionParallel measures contention on one hot series.
func BenchmarkDecisionParallel(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Decision("bench", decision.ReasonAuthorized)
		}
	})
}

func BenchmarkProviderDecisions(b *testing.B) {
	pd := benchMetrics(b).Decisions("bench")
	b.ReportAllocs()
	for b.Loop() {
		pd.Decision(decision.ReasonAuthorized)
	}
}

func BenchmarkTokenCache(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.TokenCache(true)
	}
}

func BenchmarkSTSExchange(b *testing.B) {
	m := benchMetrics(b)
	b.ReportAllocs()
	for b.Loop() {
		m.STSExchange("bench", decision.STSOK, 20*time.Millisecond)
	}
}

func BenchmarkNilMetrics(b *testing.B) {
	var m *Metrics
	b.ReportAllocs()
	for b.Loop() {
		m.Decision("bench", decision.ReasonAuthorized)
	}
}
