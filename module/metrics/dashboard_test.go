package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/edgeauth/caddy-edgeauth/module/decision"
	"github.com/edgeauth/caddy-edgeauth/module/oidc"
)

// This file checks the operator-facing files in docs/ that query the metrics
// (the Grafana dashboard and the Prometheus alert rules) against the real
// registry: every metric they name is exported, with every label they select,
// group or print, and every fixed label value they compare with is one the
// plugin records.

// series is what the registry exports under one sample name.
type series struct {
	labels map[string]map[string]bool // label name → values seen
}

// realRegistry builds the plugin's collectors into a fresh registry (as each
// Caddy config does), records one of every kind of event so that every label
// value the plugin pre-creates is present, and returns the exported sample
// names (a histogram as its _bucket, _sum and _count samples).
func realRegistry(t *testing.T) map[string]*series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveProviders(func() []ProviderState {
		return []ProviderState{{Name: "corp", Status: oidc.Status{MetadataLoaded: true, KeysLoaded: 2, LastRefresh: time.Now(), KeyAge: time.Minute, JWKSFetches: 1}}}
	}); err != nil {
		t.Fatal(err)
	}
	m.Decision("corp", decision.ReasonAuthorized)
	m.TokenCache(true)
	m.STSExchange("alibaba", decision.STSOK, 10*time.Millisecond)
	m.STSCache(false)
	m.SessionRefresh(true)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*series{}
	add := func(name string, labels []*dto.LabelPair, extra ...string) {
		s := out[name]
		if s == nil {
			s = &series{labels: map[string]map[string]bool{}}
			out[name] = s
		}
		set := func(k, v string) {
			if s.labels[k] == nil {
				s.labels[k] = map[string]bool{}
			}
			s.labels[k][v] = true
		}
		for _, l := range labels {
			set(l.GetName(), l.GetValue())
		}
		for i := 0; i+1 < len(extra); i += 2 {
			set(extra[i], extra[i+1])
		}
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, metric := range mf.GetMetric() {
			if mf.GetType() == dto.MetricType_HISTOGRAM {
				for _, b := range metric.GetHistogram().GetBucket() {
					add(name+"_bucket", metric.GetLabel(), "le", fmt.Sprint(b.GetUpperBound()))
				}
				add(name+"_sum", metric.GetLabel())
				add(name+"_count", metric.GetLabel())
				continue
			}
			add(name, metric.GetLabel())
		}
	}
	return out
}

var (
	// selectorRe finds an edgeauth metric name and its optional {matchers}.
	selectorRe = regexp.MustCompile(`\b(caddy_edgeauth_[a-zA-Z0-9_]+)\s*(\{[^}]*\})?`)
	// matcherRe is one label matcher inside {…}.
	matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// groupingRe is a by/without/on/ignoring label list.
	groupingRe = regexp.MustCompile(`\b(by|without|on|ignoring)\s*\(([^)]*)\)`)
	// labelValuesRe is Grafana's label_values(metric, label) variable query.
	labelValuesRe = regexp.MustCompile(`label_values\(\s*(caddy_edgeauth_[a-zA-Z0-9_]+)[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
	// plainAlternatives is a regex value made only of literal alternatives.
	plainAlternatives = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// checkQuery returns what is wrong with one PromQL expression (or Grafana
// variable query): unknown metrics, labels the metric does not have, label
// values it never takes, and printed labels (legendFormat {{x}}, alert
// {{ $labels.x }}) that the expression's result cannot carry.
func checkQuery(reg map[string]*series, expr string, printed []string) []string {
	var problems []string
	var metrics []*series
	sels := selectorRe.FindAllStringSubmatch(expr, -1)
	if len(sels) == 0 {
		return []string{fmt.Sprintf("%q names no caddy_edgeauth_ metric", expr)}
	}
	for _, sel := range sels {
		name := sel[1]
		s, ok := reg[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%q: metric %s is not exported", expr, name))
			continue
		}
		metrics = append(metrics, s)
		for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
			label, op, value := m[1], m[2], m[3]
			values, ok := s.labels[label]
			if !ok {
				problems = append(problems, fmt.Sprintf("%q: %s has no label %q", expr, name, label))
				continue
			}
			if strings.Contains(value, "$") {
				continue // a dashboard variable
			}
			var want []string
			switch {
			case op == "=" || op == "!=":
				want = []string{value}
			case plainAlternatives.MatchString(value):
				want = strings.Split(value, "|")
			}
			for _, v := range want {
				if !values[v] {
					problems = append(problems, fmt.Sprintf("%q: %s never has %s=%q (it has %v)", expr, name, label, v, keys(values)))
				}
			}
		}
	}
	if len(metrics) == 0 {
		return problems
	}
	var grouped []string
	for _, g := range groupingRe.FindAllStringSubmatch(expr, -1) {
		for _, label := range strings.Split(g[2], ",") {
			label = strings.TrimSpace(label)
			if label == "" {
				continue
			}
			grouped = append(grouped, label)
			for _, s := range metrics {
				if _, ok := s.labels[label]; !ok {
					problems = append(problems, fmt.Sprintf("%q: %s (%s) is not a label of every metric in it", expr, label, g[1]))
					break
				}
			}
		}
	}
	for _, label := range printed {
		ok := false
		if len(grouped) > 0 {
			for _, g := range grouped {
				ok = ok || g == label
			}
		} else {
			_, ok = metrics[0].labels[label]
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%q: prints label %q that the result does not carry", expr, label))
		}
	}
	return problems
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	legendLabelRe = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
	alertLabelRe  = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
)

func submatches(re *regexp.Regexp, s string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDashboardUsesRealMetrics: every query of docs/grafana/edgeauth.json
// (panel targets and template variables) asks only for series the plugin
// exports, and every panel row of the README's metric table is shown.
func TestDashboardUsesRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana/edgeauth.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	reg := realRegistry(t)
	used := map[string]bool{}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			for _, problem := range checkQuery(reg, tg.Expr, submatches(legendLabelRe, tg.LegendFormat)) {
				t.Errorf("panel %q: %s", p.Title, problem)
			}
			for _, sel := range selectorRe.FindAllStringSubmatch(tg.Expr, -1) {
				used[strings.TrimSuffix(sel[1], "_bucket")] = true
			}
		}
	}
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		lv := labelValuesRe.FindStringSubmatch(q)
		if lv == nil {
			t.Errorf("variable %s: query %q is not label_values(caddy_edgeauth_…, label)", v.Name, q)
			continue
		}
		if s, ok := reg[lv[1]]; !ok {
			t.Errorf("variable %s: metric %s is not exported", v.Name, lv[1])
		} else if _, ok := s.labels[lv[2]]; !ok {
			t.Errorf("variable %s: %s has no label %q", v.Name, lv[1], lv[2])
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for name := range reg {
		base := strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count")
		if !used[strings.TrimSuffix(base, "_bucket")] {
			t.Errorf("metric %s is exported but no dashboard panel shows it", name)
		}
	}
}

// TestAlertRulesUseRealMetrics: every rule of docs/prometheus/edgeauth-alerts.yml
// queries series the plugin exports, and the labels its annotations print
// survive the expression's aggregation. The issue asks for alerts on key
// refresh failures, STS errors and store outages; each has a rule.
func TestAlertRulesUseRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/prometheus/edgeauth-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("the rule file does not parse: %v", err)
	}
	reg := realRegistry(t)
	alerts := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("rule %q: needs alert, expr, a severity label and a summary", r.Alert)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("rule %q: for %q: %v", r.Alert, r.For, err)
			}
			alerts[r.Alert] = true
			var printed []string
			for _, a := range r.Annotations {
				printed = append(printed, submatches(alertLabelRe, a)...)
			}
			for _, problem := range checkQuery(reg, r.Expr, printed) {
				t.Errorf("rule %q: %s", r.Alert, problem)
			}
		}
	}
	for _, want := range []string{"EdgeauthKeyRefreshFailing", "EdgeauthSTSErrors", "EdgeauthStoreUnavailable"} {
		if !alerts[want] {
			t.Errorf("no rule %s", want)
		}
	}
}

// TestCheckQueryFindsMistakes: the checker above refuses the mistakes it
// exists for, so the two tests above can fail.
func TestCheckQueryFindsMistakes(t *testing.T) {
	reg := realRegistry(t)
	for expr, want := range map[string]string{
		`rate(caddy_edgeauth_decision_total[5m])`:                                         "not exported",
		`caddy_edgeauth_decisions_total{subject="x"}`:                                     `no label "subject"`,
		`caddy_edgeauth_decisions_total{reason="store_down"}`:                             `never has reason="store_down"`,
		`caddy_edgeauth_sts_exchanges_total{result=~"ok|timeout"}`:                        `never has result="timeout"`,
		`sum by (issuer) (caddy_edgeauth_jwks_keys)`:                                      "issuer (by)",
		`histogram_quantile(0.9, rate(caddy_edgeauth_sts_exchange_duration_seconds[5m]))`: "not exported",
		`up`: "names no caddy_edgeauth_ metric",
	} {
		problems := strings.Join(checkQuery(reg, expr, nil), "\n")
		if !strings.Contains(problems, want) {
			t.Errorf("%s: problems %q, want one containing %q", expr, problems, want)
		}
	}
	if p := checkQuery(reg, `sum by (sts) (rate(caddy_edgeauth_sts_exchanges_total[5m]))`, []string{"provider"}); len(p) != 1 || !strings.Contains(p[0], `prints label "provider"`) {
		t.Errorf("printing a label the aggregation dropped: %q", p)
	}
	if p := checkQuery(reg, `sum by (le, sts) (rate(caddy_edgeauth_sts_exchange_duration_seconds_bucket{sts=~"$sts"}[5m]))`, []string{"sts"}); len(p) != 0 {
		t.Errorf("a correct histogram query: %q", p)
	}
}
