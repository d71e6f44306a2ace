package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/module/decision"
)

// adminCall sends a request to Caddy's admin endpoint and returns the status
// and body.
func (e *env) adminCall(method, path string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", e.admin, path), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	// Every config load replaces Caddy's admin server and closes the old
	// one's keep-alive connections; a POST on such a connection is not
	// retried, so admin calls never reuse one.
	req.Close = true
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, body
}

// series is one scraped sample: its name, labels and value.
type series struct {
	name   string
	labels map[string]string
	value  float64
}

// key is "name{k=v,…}" with the labels sorted.
func (s series) key() string {
	ks := make([]string, 0, len(s.labels))
	for k, v := range s.labels {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return s.name + "{" + strings.Join(ks, ",") + "}"
}

// scrapeMetrics reads Caddy's /metrics on the admin endpoint and returns
// the caddy_edgeauth_* samples. The scrape must succeed: a registry with
// duplicate or inconsistent collectors answers 500.
func (e *env) scrapeMetrics() []series {
	e.t.Helper()
	status, body := e.adminCall(http.MethodGet, "/metrics")
	if status != http.StatusOK {
		e.t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return parseMetrics(e.t, body, "caddy_edgeauth_")
}

// parseMetrics parses the Prometheus text format (the subset Caddy writes:
// no timestamps) and keeps the samples whose name has the prefix.
func parseMetrics(t testing.TB, body []byte, prefix string) []series {
	t.Helper()
	var out []series
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, prefix) {
			continue
		}
		s := series{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			s.name = line[:i]
			j := strings.LastIndexByte(line, '}')
			if j < i {
				t.Fatalf("unparsable metrics line %q", line)
			}
			for _, pair := range splitLabels(line[i+1 : j]) {
				k, v, ok := strings.Cut(pair, "=")
				uq, err := strconv.Unquote(v)
				if !ok || err != nil {
					t.Fatalf("unparsable label %q in %q", pair, line)
				}
				s.labels[k] = uq
			}
			rest = line[j+1:]
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			t.Fatalf("unparsable value in %q: %v", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

// splitLabels splits `a="x",b="y,z"` at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	inQuote, esc, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case esc:
			esc = false
		case c == '\\':
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// sumMetric adds the samples of name whose labels include every k=v of
// match (given as "k=v" strings).
func sumMetric(ss []series, name string, match ...string) float64 {
	total := 0.0
	for _, s := range ss {
		if s.name != name {
			continue
		}
		ok := true
		for _, m := range match {
			k, v, _ := strings.Cut(m, "=")
			if s.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += s.value
		}
	}
	return total
}

// hasMetric reports whether a sample of name with the labels exists.
func hasMetric(ss []series, name string, match ...string) bool {
	for _, s := range ss {
		if s.name != name {
			continue
		}
		ok := true
		for _, m := range match {
			k, v, _ := strings.Cut(m, "=")
			if s.labels[k] != v {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// edgeauthLabelValues are every value each edgeauth label may take in these
// tests: configuration names and the closed sets of the metrics package.
var edgeauthLabelValues = map[string]map[string]bool{
	"provider": {"": true, "demo": true},
	"outcome":  {"allow": true, "deny": true, "redirect": true, "unavailable": true, "error": true},
	"reason":   reasonNames(), // the metrics package's closed set
	"result": {"hit": true, "miss": true, "ok": true, "error": true, "invalid_token": true, "forbidden": true,
		"misconfigured": true, "unavailable": true},
	"le": nil, // histogram buckets: numbers
}

// reasonNames is every decision reason the metrics package defines.
func reasonNames() map[string]bool {
	names := map[string]bool{}
	for r := range decision.Reason(decision.NumReasons) {
		names[r.String()] = true
	}
	return names
}

// checkLabelHygiene fails when an edgeauth sample has a label outside the
// known set, or a value that is request data (a subject, an IP, a path, a
// token).
func checkLabelHygiene(t *testing.T, ss []series, providers []string, forbidden ...string) {
	t.Helper()
	for _, s := range ss {
		for k, v := range s.labels {
			allowed, known := edgeauthLabelValues[k]
			switch {
			case k == "sts" && providerName.MatchString(v):
				// STS names come from configuration; counters are
				// process-wide, so the STS tests' names appear too.
			case k == "sts":
				t.Errorf("%s: unexpected sts label %q", s.key(), v)
			case !known:
				t.Errorf("%s: unexpected label %q", s.key(), k)
			case k == "le":
				if _, err := strconv.ParseFloat(v, 64); err != nil && v != "+Inf" {
					t.Errorf("%s: bucket %q", s.key(), v)
				}
			case k == "provider" && (contains(providers, v) || providerName.MatchString(v)):
				// Counters are process-wide, so providers of earlier tests
				// appear too; a name is never request data (checked below).
			case !allowed[v]:
				t.Errorf("%s: label %s has the value %q, which is not a configured name or a fixed code", s.key(), k, v)
			}
			for _, f := range forbidden {
				if f != "" && strings.Contains(v, f) {
					t.Errorf("%s: label %s holds request data %q", s.key(), k, f)
				}
			}
		}
	}
}

// providerName is the provider name syntax the config accepts.
var providerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestMetricsCountDecisions sends allowed and refused requests and reads
// the edgeauth series from Caddy's /metrics.
func TestMetricsCountDecisions(t *testing.T) {
	e, _ := startBearer(t, demoidp.Options{})
	bob, err := e.idp.MintFor("bob", []string{"openid", "aliuid", "profile"})
	if err != nil {
		t.Fatal(err)
	}
	fresh := e.aliceToken() // a token the cache has not seen
	before := e.scrapeMetrics()

	for i := 0; i < 3; i++ {
		e.upstreamSaw(e.get("/obs/orders?secret=querysecret", fresh))
	}
	e.upstreamSaw(e.get("/public/logo.png", ""))
	for i := 0; i < 2; i++ {
		resp, body := e.get("/obs/orders", "")
		assertError(t, resp, body, http.StatusUnauthorized, "unauthorized")
		resp, body = e.get("/obs/orders", "not-a-token")
		assertError(t, resp, body, http.StatusUnauthorized, "invalid_token")
	}
	resp, body := e.get("/dns/records", bob)
	assertError(t, resp, body, http.StatusForbidden, "insufficient_scope")
	resp, body = e.get("/billing/invoices", fresh)
	assertError(t, resp, body, http.StatusForbidden, "access_denied")

	after := e.scrapeMetrics()
	const decisions = "caddy_edgeauth_decisions_total"
	delta := func(name string, match ...string) float64 {
		return sumMetric(after, name, match...) - sumMetric(before, name, match...)
	}
	// Outcome and reason are fixed per request; the provider is known for
	// every request whose token verified.
	want := []struct {
		match []string
		n     float64
	}{
		{[]string{"provider=demo", "outcome=allow", "reason=authorized"}, 3},
		{[]string{"outcome=allow", "reason=public"}, 1},
		{[]string{"outcome=deny", "reason=no_credential"}, 2},
		{[]string{"outcome=deny", "reason=invalid_token"}, 2},
		{[]string{"provider=demo", "outcome=deny", "reason=insufficient_scope"}, 1},
		{[]string{"provider=demo", "outcome=deny", "reason=claim_mismatch"}, 1},
		{nil, 10},
	}
	for _, w := range want {
		if got := delta(decisions, w.match...); got != w.n {
			t.Errorf("decisions_total%v grew by %v, want %v", w.match, got, w.n)
		}
	}

	// Token cache: a token is cached from its second sight on, so the
	// fresh token misses twice then hits (2 more times), bob misses, each
	// garbage token misses.
	if got := delta("caddy_edgeauth_token_cache_requests_total", "result=hit"); got != 2 {
		t.Errorf("token cache hits grew by %v, want 2", got)
	}
	if got := delta("caddy_edgeauth_token_cache_requests_total", "result=miss"); got != 5 {
		t.Errorf("token cache misses grew by %v, want 5", got)
	}

	// Provider state, read on scrape.
	if got, want := sumMetric(after, "caddy_edgeauth_jwks_fetches_total", "provider=demo"), float64(e.idp.Counts().JWKS); got != want || got < 1 {
		t.Errorf("jwks_fetches_total{provider=demo} = %v, the provider served %v", got, want)
	}
	if got, want := sumMetric(after, "caddy_edgeauth_jwks_keys", "provider=demo"), float64(len(e.idp.PublishedKIDs())); got != want {
		t.Errorf("jwks_keys{provider=demo} = %v, want %v", got, want)
	}
	if !hasMetric(after, "caddy_edgeauth_jwks_key_age_seconds", "provider=demo") {
		t.Error("jwks_key_age_seconds{provider=demo} is missing")
	} else if age := sumMetric(after, "caddy_edgeauth_jwks_key_age_seconds", "provider=demo"); age < 0 || age > 60 {
		t.Errorf("jwks_key_age_seconds = %v, want the few seconds since start", age)
	}
	if !hasMetric(after, "caddy_edgeauth_provider_last_fetch_failed", "provider=demo") || sumMetric(after, "caddy_edgeauth_provider_last_fetch_failed", "provider=demo") != 0 {
		t.Error("provider_last_fetch_failed{provider=demo} is missing or not 0")
	}

	// No label is request data.
	checkLabelHygiene(t, after, []string{"demo"},
		"2000000000000002", "alice", "bob", "127.0.0.1", "/obs", "/dns", "/billing", "orders", "querysecret", fresh[:20], "not-a-token")
}

// providersAnswer is GET /edgeauth/providers.
type providersAnswer struct {
	Providers []struct {
		Name           string   `json:"name"`
		Issuer         string   `json:"issuer"`
		MetadataLoaded bool     `json:"metadata_loaded"`
		KeysLoaded     int      `json:"keys_loaded"`
		LastRefresh    string   `json:"last_refresh"`
		KeyAgeSeconds  *float64 `json:"key_age_seconds"`
		LastError      string   `json:"last_error"`
		JWKSFetches    int64    `json:"jwks_fetches"`
	} `json:"providers"`
}

type cachesAnswer struct {
	TokenCache struct {
		Entries int `json:"entries"`
	} `json:"token_cache"`
	STSCaches map[string]struct {
		Entries int `json:"entries"`
	} `json:"sts_caches"`
}

func decodeJSON(t *testing.T, status int, body []byte, wantStatus int, v any) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
}

// TestAdminEndpoint drives admin.api.edgeauth: provider state, cache sizes,
// flush and a forced key refresh.
func TestAdminEndpoint(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})

	var ps providersAnswer
	status, body := e.adminCall(http.MethodGet, "/edgeauth/providers")
	decodeJSON(t, status, body, http.StatusOK, &ps)
	if len(ps.Providers) != 1 {
		t.Fatalf("providers: %s", body)
	}
	p := ps.Providers[0]
	if p.Name != "demo" || p.Issuer != e.idp.Issuer() || !p.MetadataLoaded || p.KeysLoaded != len(e.idp.PublishedKIDs()) || p.LastError != "" {
		t.Errorf("provider state: %s", body)
	}
	if p.JWKSFetches != e.idp.Counts().JWKS {
		t.Errorf("jwks_fetches = %d, the provider served %d", p.JWKSFetches, e.idp.Counts().JWKS)
	}
	if ts, err := time.Parse(time.RFC3339Nano, p.LastRefresh); err != nil || time.Since(ts) > time.Minute || p.KeyAgeSeconds == nil {
		t.Errorf("last_refresh %q (%v), key_age_seconds %v", p.LastRefresh, err, p.KeyAgeSeconds)
	}
	for _, secret := range []string{demoidp.DefaultClientSecret, alice} {
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("the providers answer holds a secret or token")
		}
	}

	// Caches: alice's token is cached once startBearer and this request
	// have presented it (a token is cached from its second sight on).
	e.upstreamSaw(e.get("/", alice))
	var cs cachesAnswer
	status, body = e.adminCall(http.MethodGet, "/edgeauth/caches")
	decodeJSON(t, status, body, http.StatusOK, &cs)
	if cs.TokenCache.Entries < 1 || cs.STSCaches == nil {
		t.Errorf("caches before flush: %s", body)
	}

	// Flush empties the cache the handler really uses, and forgets which
	// tokens it saw: a token verified after the flush is cached on its
	// second request, as the only entry.
	var flushed struct {
		Flushed cachesAnswer `json:"flushed"`
	}
	status, body = e.adminCall(http.MethodPost, "/edgeauth/caches/flush")
	decodeJSON(t, status, body, http.StatusOK, &flushed)
	if flushed.Flushed.TokenCache.Entries != cs.TokenCache.Entries {
		t.Errorf("flush reports %d entries removed, the cache had %d", flushed.Flushed.TokenCache.Entries, cs.TokenCache.Entries)
	}
	status, body = e.adminCall(http.MethodGet, "/edgeauth/caches")
	decodeJSON(t, status, body, http.StatusOK, &cs)
	if cs.TokenCache.Entries != 0 {
		t.Errorf("token cache after flush: %d entries", cs.TokenCache.Entries)
	}
	e.upstreamSaw(e.get("/", alice))
	status, body = e.adminCall(http.MethodGet, "/edgeauth/caches")
	decodeJSON(t, status, body, http.StatusOK, &cs)
	if cs.TokenCache.Entries != 0 {
		t.Errorf("token cache after one request: %d entries, want 0 (cached on the second)", cs.TokenCache.Entries)
	}
	e.upstreamSaw(e.get("/", alice))
	status, body = e.adminCall(http.MethodGet, "/edgeauth/caches")
	decodeJSON(t, status, body, http.StatusOK, &cs)
	if cs.TokenCache.Entries != 1 {
		t.Errorf("token cache after two requests: %d entries, want 1", cs.TokenCache.Entries)
	}

	// Refresh refetches the keys now, and the metric follows.
	before := e.idp.Counts().JWKS
	var one struct {
		Name        string `json:"name"`
		JWKSFetches int64  `json:"jwks_fetches"`
		KeysLoaded  int    `json:"keys_loaded"`
	}
	status, body = e.adminCall(http.MethodPost, "/edgeauth/providers/demo/refresh")
	decodeJSON(t, status, body, http.StatusOK, &one)
	if got := e.idp.Counts().JWKS; got != before+1 || one.JWKSFetches != got || one.Name != "demo" {
		t.Errorf("refresh: the provider served %d→%d JWKS; answer %s", before, got, body)
	}
	if got := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_jwks_fetches_total", "provider=demo"); got != float64(before+1) {
		t.Errorf("jwks_fetches_total after refresh = %v, want %d", got, before+1)
	}

	// A refresh while the provider is down fails, says so, and keeps the keys.
	e.idp.SetDown(true)
	var apiErr struct {
		Error string `json:"error"`
	}
	status, body = e.adminCall(http.MethodPost, "/edgeauth/providers/demo/refresh")
	decodeJSON(t, status, body, http.StatusBadGateway, &apiErr)
	if !strings.Contains(apiErr.Error, "previous keys stay in use") {
		t.Errorf("refresh while down: %s", body)
	}
	status, body = e.adminCall(http.MethodGet, "/edgeauth/providers")
	decodeJSON(t, status, body, http.StatusOK, &ps)
	if p := ps.Providers[0]; p.KeysLoaded == 0 || p.LastError == "" {
		t.Errorf("after a failed refresh: %s", body)
	}
	if got := sumMetric(e.scrapeMetrics(), "caddy_edgeauth_provider_last_fetch_failed", "provider=demo"); got != 1 {
		t.Errorf("provider_last_fetch_failed after a failed refresh = %v, want 1", got)
	}
	e.upstreamSaw(e.get("/", e.aliceToken())) // a new token still verifies with the kept keys
	e.idp.SetDown(false)
	status, body = e.adminCall(http.MethodPost, "/edgeauth/providers/demo/refresh")
	decodeJSON(t, status, body, http.StatusOK, &one)

	// Errors are caddy.APIError JSON.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/edgeauth/providers/nope/refresh", http.StatusNotFound},
		{http.MethodGet, "/edgeauth/providers/demo/refresh", http.StatusMethodNotAllowed},
		{http.MethodGet, "/edgeauth/caches/flush", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/edgeauth/providers", http.StatusMethodNotAllowed},
		{http.MethodGet, "/edgeauth/nothing", http.StatusNotFound},
	} {
		status, body := e.adminCall(c.method, c.path)
		decodeJSON(t, status, body, c.status, &apiErr)
		if apiErr.Error == "" {
			t.Errorf("%s %s: no error message: %s", c.method, c.path, body)
		}
	}
}

// TestMetricsAndAdminSurviveReloads reloads the config several times (in
// process and through the admin API): the collectors register in each new
// registry without a duplicate-registration error, counts continue, and
// the admin endpoint shows the new config's app.
func TestMetricsAndAdminSurviveReloads(t *testing.T) {
	e, alice := startBearer(t, demoidp.Options{})
	e.upstreamSaw(e.get("/", alice))
	const authorized = "caddy_edgeauth_decisions_total"
	match := []string{"provider=demo", "reason=authorized"}
	before := sumMetric(e.scrapeMetrics(), authorized, match...)
	if before < 1 {
		t.Fatalf("no authorized decision counted before the reloads (is the handler wired to the metrics?)")
	}

	attempts := 0
	for i := 0; i < 4; i++ {
		cfg := adapt(t, strings.Replace(bearerSite(e), "public /healthz", fmt.Sprintf("public /healthz /reload-%d", i), 1))
		if i%2 == 0 {
			loadCaddy(t, cfg)
		} else {
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/load", e.admin), bytes.NewReader(cfg))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Close = true // see adminCall
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("reload %d through POST /load: %d %s", i, resp.StatusCode, msg)
			}
		}
		// The first request after a reload may meet the reload's own
		// connection reset (see reloadReset in soak_test.go): retried.
		attempts += e.getAfterReload(t, "/", alice)
		attempts += e.getAfterReload(t, fmt.Sprintf("/reload-%d", i), "")
	}
	after := e.scrapeMetrics()
	if got := sumMetric(after, authorized, match...); got < before+4 || got > before+float64(attempts) {
		t.Errorf("authorized decisions: %v before 4 reloads and 4 requests, %v after; want the count to carry on", before, got)
	}
	for _, name := range []string{"caddy_edgeauth_jwks_fetches_total", "caddy_edgeauth_jwks_keys", "caddy_edgeauth_provider_last_fetch_failed"} {
		n := 0
		for _, s := range after {
			if s.name == name && s.labels["provider"] == "demo" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s{provider=demo} appears %d times after reloads, want once", name, n)
		}
	}
	var ps providersAnswer
	status, body := e.adminCall(http.MethodGet, "/edgeauth/providers")
	decodeJSON(t, status, body, http.StatusOK, &ps)
	if len(ps.Providers) != 1 || ps.Providers[0].Name != "demo" {
		t.Errorf("providers after reloads: %s", body)
	}

	// A config without edgeauth: the admin endpoint says edgeauth is not
	// running rather than showing a stopped app.
	loadCaddy(t, []byte(fmt.Sprintf(`{"admin":{"listen":"127.0.0.1:%d"}}`, e.admin)))
	status, body = e.adminCall(http.MethodGet, "/edgeauth/providers")
	if status != http.StatusNotFound || !strings.Contains(string(body), "not running") {
		t.Errorf("providers without an edgeauth app: %d %s", status, body)
	}
}

// getAfterReload sends GET path until it is answered (at most 5 tries, on
// connection errors only), requires 200 from the upstream and returns the
// number of tries.
func (e *env) getAfterReload(t *testing.T, path, bearer string) int {
	t.Helper()
	for try := 1; ; try++ {
		req, err := http.NewRequest(http.MethodGet, e.url(path), nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := e.client.Do(req)
		if err != nil {
			if try == 5 {
				t.Fatalf("GET %s after a reload: %v", path, err)
			}
			t.Logf("GET %s right after a reload: %v; retrying", path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.upstreamSaw(resp, body)
		return try
	}
}
