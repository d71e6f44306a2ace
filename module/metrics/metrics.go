// Package metrics holds edgeauth's Prometheus collectors and the stable
// reason codes of its decisions.
//
// The counters live for the whole process and are registered into each
// config's registry (Caddy gives every config a new one), so their values
// continue across config reloads instead of dropping to zero. Provider state
// (JWKS fetches, key age) is read from the providers when the registry is
// scraped, so nothing is counted on the request path for it.
//
// Every label value comes from configuration (provider and STS names) or
// from a closed set in this package (outcome, reason, result): never a
// subject, an IP address, a path or any other request data.
//
// All methods are safe on a nil *Metrics, so the glue can run without
// metrics. The request-path methods do not allocate: label combinations are
// resolved once, and a decision costs a map lookup and one atomic add.
package metrics

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

const (
	namespace = "caddy"
	subsystem = "edgeauth"
)

// maxNames bounds how many distinct provider (and STS) label values are
// created. Names come from configuration, so the bound is only a guard
// against a caller passing request data by mistake; past it, decisions are
// counted under the empty provider label.
const maxNames = 256

// collectors are the process-wide metric vectors.
type collectors struct {
	decisions        *prometheus.CounterVec
	tokenCache       *prometheus.CounterVec
	stsExchanges     *prometheus.CounterVec
	stsDuration      *prometheus.HistogramVec
	stsCache         *prometheus.CounterVec
	sessionRefreshes *prometheus.CounterVec

	tokenHit, tokenMiss   prometheus.Counter
	stsHit, stsMiss       prometheus.Counter
	refreshOK, refreshErr prometheus.Counter

	// byProvider maps a provider name to its pre-resolved decision
	// counters; byName maps an STS name to its exchange series. Both are
	// copy-on-write: readers load the map without a lock.
	mu         sync.Mutex
	byProvider atomic.Pointer[map[string]*decisionSet]
	bySTS      atomic.Pointer[map[string]*stsSet]
}

// decisionSet is one provider's counters, indexed by decision.Reason.
type decisionSet [decision.NumReasons]prometheus.Counter

// stsSet is one STS's series.
type stsSet struct {
	results  [decision.NumSTSResults]prometheus.Counter
	duration prometheus.Observer
}

var shared = sync.OnceValue(newCollectors)

func newCollectors() *collectors {
	c := &collectors{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name: "decisions_total",
			Help: "Requests decided by edgeauth, by provider, outcome (allow, deny, redirect, unavailable, error) and reason code.",
		}, []string{"provider", "outcome", "reason"}),
		tokenCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name: "token_cache_requests_total",
			Help: "Lookups in the verified-token cache, by result (hit, miss).",
		}, []string{"result"}),
		stsExchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name: "sts_exchanges_total",
			Help: "Token exchanges sent to an STS, by STS name and result (ok, invalid_token, forbidden, misconfigured, unavailable).",
		}, []string{"sts", "result"}),
		stsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name:    "sts_exchange_duration_seconds",
			Help:    "Time taken by token exchanges at an STS, successful or not.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"sts"}),
		stsCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name: "sts_cache_requests_total",
			Help: "Lookups in the STS credential cache, by result (hit, miss).",
		}, []string{"result"}),
		sessionRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: subsystem,
			Name: "session_refreshes_total",
			Help: "Session refreshes with the provider's refresh token, by result (ok, error).",
		}, []string{"result"}),
	}
	c.tokenHit = c.tokenCache.WithLabelValues("hit")
	c.tokenMiss = c.tokenCache.WithLabelValues("miss")
	c.stsHit = c.stsCache.WithLabelValues("hit")
	c.stsMiss = c.stsCache.WithLabelValues("miss")
	c.refreshOK = c.sessionRefreshes.WithLabelValues("ok")
	c.refreshErr = c.sessionRefreshes.WithLabelValues("error")
	c.byProvider.Store(&map[string]*decisionSet{})
	c.bySTS.Store(&map[string]*stsSet{})
	c.decisionsFor("") // the series for decisions made before a provider is known
	return c
}

func (c *collectors) all() []prometheus.Collector {
	return []prometheus.Collector{c.decisions, c.tokenCache, c.stsExchanges, c.stsDuration, c.stsCache, c.sessionRefreshes, assertionSignatures()}
}

// decisionsFor returns the provider's counters, creating them (every
// reason, at zero) the first time the name is seen.
func (c *collectors) decisionsFor(provider string) *decisionSet {
	if s, ok := (*c.byProvider.Load())[provider]; ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.byProvider.Load()
	if s, ok := cur[provider]; ok {
		return s
	}
	if len(cur) >= maxNames {
		return cur[""]
	}
	s := new(decisionSet)
	for r := range s {
		s[r] = c.decisions.WithLabelValues(provider, decision.Reason(r).Outcome().String(), decision.Reason(r).String())
	}
	next := make(map[string]*decisionSet, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[provider] = s
	c.byProvider.Store(&next)
	return s
}

// stsFor returns the STS's series, creating them the first time.
func (c *collectors) stsFor(name string) *stsSet {
	if s, ok := (*c.bySTS.Load())[name]; ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := *c.bySTS.Load()
	if s, ok := cur[name]; ok {
		return s
	}
	if len(cur) >= maxNames {
		name = ""
		if s, ok := cur[name]; ok {
			return s
		}
	}
	s := &stsSet{duration: c.stsDuration.WithLabelValues(name)}
	for r := range s.results {
		s.results[r] = c.stsExchanges.WithLabelValues(name, decision.STSResult(r).String())
	}
	next := make(map[string]*stsSet, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[name] = s
	c.bySTS.Store(&next)
	return s
}

// Metrics records edgeauth's metrics into one config's registry. A nil
// *Metrics records nothing.
type Metrics struct {
	c   *collectors
	reg prometheus.Registerer
}

// New registers edgeauth's collectors in reg (a config's registry, from
// caddy.Context.GetMetricsRegistry) and returns the recorder. Calling it
// again with the same registry (several modules of one config) reuses the
// collectors already there; a new registry (a reload) gets the same
// process-wide collectors, so counts continue across reloads. A nil reg
// gives a recorder that counts without being exported.
func New(reg prometheus.Registerer) (*Metrics, error) {
	c := shared()
	if reg != nil {
		for _, col := range c.all() {
			if _, err := registerOrExisting(reg, col); err != nil {
				return nil, err
			}
		}
	}
	return &Metrics{c: c, reg: reg}, nil
}

// registerOrExisting registers col, or returns the collector already
// registered under the same descriptors.
func registerOrExisting(reg prometheus.Registerer, col prometheus.Collector) (prometheus.Collector, error) {
	err := reg.Register(col)
	if err == nil {
		return col, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		return are.ExistingCollector, nil
	}
	return nil, err
}

// Decision counts one decision. provider is the configured provider name
// ("" when none is known yet, e.g. no credential was presented).
func (m *Metrics) Decision(provider string, reason decision.Reason) {
	if m == nil || int(reason) >= decision.NumReasons {
		return
	}
	m.c.decisionsFor(provider)[reason].Inc()
}

// Decisions returns a recorder bound to one provider, for a caller that
// knows the provider ahead of time; it skips the name lookup.
func (m *Metrics) Decisions(provider string) *ProviderDecisions {
	if m == nil {
		return nil
	}
	return &ProviderDecisions{set: m.c.decisionsFor(provider)}
}

// ProviderDecisions counts decisions for one provider. A nil
// *ProviderDecisions records nothing.
type ProviderDecisions struct{ set *decisionSet }

// Decision counts one decision.
func (p *ProviderDecisions) Decision(reason decision.Reason) {
	if p == nil || int(reason) >= decision.NumReasons {
		return
	}
	p.set[reason].Inc()
}

// TokenCache counts one lookup in the verified-token cache.
func (m *Metrics) TokenCache(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.c.tokenHit.Inc()
	} else {
		m.c.tokenMiss.Inc()
	}
}

// STSExchange counts one exchange at the named STS and observes how long
// it took. Use decision.STSResultFor(err) for the result.
func (m *Metrics) STSExchange(name string, result decision.STSResult, took time.Duration) {
	if m == nil || int(result) >= decision.NumSTSResults {
		return
	}
	s := m.c.stsFor(name)
	s.results[result].Inc()
	s.duration.Observe(took.Seconds())
}

// STSCache counts one lookup in the STS credential cache.
func (m *Metrics) STSCache(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.c.stsHit.Inc()
	} else {
		m.c.stsMiss.Inc()
	}
}

// SessionRefresh counts one session refresh at the provider.
func (m *Metrics) SessionRefresh(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.c.refreshOK.Inc()
	} else {
		m.c.refreshErr.Inc()
	}
}
