package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Scenario 9 is scenario 1 on a Caddy whose route sends a signed identity
// assertion: the same repeated bearer token, so the cost measured is the
// assertion's (claims, cache lookup, header) plus one signature per half
// lifetime.
const (
	setupAssertion = "edgeauth-assertion"
	// assertionLifetime is the setup's assertion lifetime (the default).
	assertionLifetime = 2 * time.Minute
	// assertionRatioTarget is scenario 9's throughput target relative to
	// scenario 1 in the same run, and assertionCPUTarget its added Caddy
	// CPU per request.
	assertionRatioTarget = 0.97
	assertionCPUTarget   = 3 * time.Microsecond
	signaturesMetric     = "caddy_edgeauth_assertion_signatures_total"
)

// signatures reads the assertion signature counter from a Caddy's admin
// /metrics.
func signatures(ctx context.Context, p *caddyProc) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("GET /metrics: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == signaturesMetric {
			return strconv.ParseFloat(strings.TrimSpace(value), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s is not exported", signaturesMetric)
}

// checkAssertionSigned runs after the setup's enforcement checks: a valid
// token must have made the gateway sign an assertion, else scenario 9
// would measure scenario 1 again.
func (r *runner) checkAssertionSigned(ctx context.Context) error {
	p := r.procs[setupAssertion]
	if p == nil {
		return nil
	}
	n, err := signatures(ctx, p)
	if err != nil {
		return fmt.Errorf("%s: %w", setupAssertion, err)
	}
	if n < 1 {
		return fmt.Errorf("%s: a valid token passed but no assertion was signed (is `assertion` on the route?)", setupAssertion)
	}
	r.assertionSince = time.Now()
	return nil
}

// recordSignatures stores the signature count and the time it covers in
// scenario 9's row.
func (r *runner) recordSignatures(ctx context.Context, rep *report) error {
	p := r.procs[setupAssertion]
	if p == nil {
		return nil
	}
	n, err := signatures(ctx, p)
	if err != nil {
		return fmt.Errorf("%s: %w", setupAssertion, err)
	}
	for _, row := range rep.rows {
		if row.info.setup == setupAssertion {
			row.signatures, row.signedOver = n, time.Since(r.assertionSince)
		}
	}
	return nil
}

// assertionNotes compares scenario 9 with scenario 1 of the same run and
// reports the signatures, or nothing for other rows.
func (rep *report) assertionNotes(r *row) []string {
	if r.info.setup != setupAssertion {
		return nil
	}
	var notes []string
	for _, base := range rep.rows {
		if base.info.id != 1 || base.unavailable != "" || len(base.edge) == 0 {
			continue
		}
		rel := summarize(r.edge).rps / summarize(base.edge).rps
		added := summarize(r.edge).cpu - summarize(base.edge).cpu
		verdict := "met"
		if rel < assertionRatioTarget || added > assertionCPUTarget {
			verdict = "**missed**"
		}
		notes = append(notes, fmt.Sprintf("vs scenario 1: throughput %.3f (target ≥ %.2f), Caddy CPU %s per request (target ≤ +%s): %s",
			rel, assertionRatioTarget, fmtAdded(added), fmtDur(assertionCPUTarget), verdict))
	}
	if r.signedOver > 0 {
		halves := math.Ceil(r.signedOver.Seconds() / (assertionLifetime / 2).Seconds())
		notes = append(notes, fmt.Sprintf("%.0f assertion signatures over %.0f s for 1 identity × 1 audience (%.0f half-lifetimes of %s: %.2f per identity, audience and half-lifetime)",
			r.signatures, r.signedOver.Seconds(), halves, assertionLifetime/2, r.signatures/halves))
	}
	return notes
}
