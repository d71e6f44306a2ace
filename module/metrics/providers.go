package metrics

import (
	"errors"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// ProviderState is one provider's name and status, as reported on scrape.
type ProviderState struct {
	// Name is the configured provider name (the `provider` label).
	Name string
	// Status is the provider's current state (oidc.Provider.Status()).
	Status oidc.Status
}

// ProviderSource lists the providers of the running config. It is called on
// every scrape and must be cheap and safe for concurrent use.
type ProviderSource func() []ProviderState

// providerCollector reads provider state when the registry is scraped.
type providerCollector struct {
	src atomic.Pointer[ProviderSource]

	fetches, keys, keyAge, failing *prometheus.Desc
}

func newProviderCollector() *providerCollector {
	name := func(n string) string { return prometheus.BuildFQName(namespace, subsystem, n) }
	labels := []string{"provider"}
	return &providerCollector{
		fetches: prometheus.NewDesc(name("jwks_fetches_total"),
			"JWKS requests made to the provider (start-up, scheduled, unknown-kid and admin refreshes), failed ones included.", labels, nil),
		keys: prometheus.NewDesc(name("jwks_keys"),
			"Usable signing keys currently loaded for the provider (0 until the first successful fetch).", labels, nil),
		keyAge: prometheus.NewDesc(name("jwks_key_age_seconds"),
			"Seconds since the provider's keys were last fetched successfully; absent until they load.", labels, nil),
		failing: prometheus.NewDesc(name("provider_last_fetch_failed"),
			"1 when the provider's last discovery or JWKS fetch failed (its keys, if any, are still used), 0 otherwise.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (p *providerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.fetches
	ch <- p.keys
	ch <- p.keyAge
	ch <- p.failing
}

// Collect implements prometheus.Collector.
func (p *providerCollector) Collect(ch chan<- prometheus.Metric) {
	src := p.src.Load()
	if src == nil || *src == nil {
		return
	}
	seen := make(map[string]bool)
	for _, ps := range (*src)() {
		if seen[ps.Name] {
			continue // a duplicate series would fail the whole scrape
		}
		seen[ps.Name] = true
		s := ps.Status
		ch <- prometheus.MustNewConstMetric(p.fetches, prometheus.CounterValue, float64(s.JWKSFetches), ps.Name)
		ch <- prometheus.MustNewConstMetric(p.keys, prometheus.GaugeValue, float64(s.KeysLoaded), ps.Name)
		if !s.LastRefresh.IsZero() {
			ch <- prometheus.MustNewConstMetric(p.keyAge, prometheus.GaugeValue, s.KeyAge.Seconds(), ps.Name)
		}
		failing := 0.0
		if s.LastError != "" {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(p.failing, prometheus.GaugeValue, failing, ps.Name)
	}
}

// ObserveProviders reports the providers listed by src on every scrape of
// the registry given to New: JWKS fetches, keys loaded, key age and whether
// the last fetch failed. Call it once per config (from the app's
// Provision); calling it again on the same registry replaces the source.
func (m *Metrics) ObserveProviders(src ProviderSource) error {
	if m == nil || m.reg == nil {
		return nil
	}
	col, err := registerOrExisting(m.reg, newProviderCollector())
	if err != nil {
		return err
	}
	pc, ok := col.(*providerCollector)
	if !ok {
		return errAlienCollector
	}
	pc.src.Store(&src)
	return nil
}

// errAlienCollector: another collector already owns edgeauth's provider
// metric names in the registry.
var errAlienCollector = errors.New("edgeauth metrics: the registry already holds a different collector for the caddy_edgeauth_jwks_* metrics; is another plugin using the edgeauth subsystem?")
