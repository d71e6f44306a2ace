package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// assertionSignatures counts identity assertions signed by the gateway. A
// repeated caller is served from the assertion cache, so the count grows by
// about one per identity and audience per half of the assertion lifetime.
var assertionSignatures = sync.OnceValue(func() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: subsystem,
		Name: "assertion_signatures_total",
		Help: "Identity assertions signed for upstreams (cached assertions are not counted).",
	})
})

// AssertionSigned counts one signed identity assertion.
func (m *Metrics) AssertionSigned() {
	if m == nil {
		return
	}
	assertionSignatures().Inc()
}
