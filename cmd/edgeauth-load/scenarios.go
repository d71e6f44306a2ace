package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// scenarioInfo describes one scenario: 1 to 5 are issue 5's, 6 is issue 6's
// fleet scenario, 8 is issue 12's DPoP scenario (the targets of 6 and 8 are
// this tool's goals; issue 12's is on Caddy CPU: scenario 8 ≤ scenario 1 +
// 45 µs per request).
type scenarioInfo struct {
	id     int
	name   string
	setup  string  // the edgeauth setup that serves it
	target float64 // least acceptable edgeauth/bare throughput ratio
}

// scenarioList is every scenario, in order.
var scenarioList = []scenarioInfo{
	{1, "one repeated bearer token", setupBearer, 0.95},
	{2, "a new valid bearer token every request", setupBearer, 0.80},
	{3, "browser session cookie", setupLogin, 0.90},
	{4, "bearer token + STS credentials (cached)", setupSTS, 0.90},
	{5, "90 % valid / 10 % bad-signature tokens", setupBearer, 0.90},
	{6, "fleet: browser session cookie with the Redis store", setupFleet, 0.88},
	{7, "fleet of three: the session cookie spread over three edgeauth instances sharing one Redis", setupFleet, 0.88},
	{8, "DPoP-bound token (cached) with a fresh ES256 proof every request", setupBearer, 0.80},
	// Scenario 9's own target is relative to scenario 1 (assertion.go); the
	// column shows scenario 1's target times that ratio.
	{9, "one repeated bearer token + signed identity assertion", setupAssertion, 0.95 * assertionRatioTarget},
}

// maxFleetCookie is the largest Cookie header scenario 6 accepts: a sealed
// session ID is about 120 bytes, a whole sealed session several times
// more, so a small cookie shows the session lives in Redis.
const maxFleetCookie = 300

// scenarioByID returns the scenario with that number.
func scenarioByID(id int) (scenarioInfo, error) {
	for _, s := range scenarioList {
		if s.id == id {
			return s, nil
		}
	}
	ids := make([]string, len(scenarioList))
	for i, s := range scenarioList {
		ids[i] = strconv.Itoa(s.id)
	}
	return scenarioInfo{}, fmt.Errorf("no scenario %d (scenarios are %s)", id, strings.Join(ids, ", "))
}

// scenario is a scenario ready to run: its sources for both sides, or why
// it cannot run.
type scenario struct {
	scenarioInfo
	bare, edge  Source
	edgeURL     string      // the edgeauth side's (first) URL
	edgeURLs    []string    // scenario 7: every fleet instance's URL; connections are spread over them
	edgeProcs   []string    // the setups whose Caddy CPU counts for the edgeauth side
	pool        *TokenPool  // scenario 2's fresh tokens
	cookieBytes int         // scenarios 3, 6 and 7: the replayed Cookie header's length
	dpop        *dpopClient // scenario 8's client (its signing cost is reported)
	unavailable string
}

// mixSet is the number of distinct valid (and invalid) tokens of scenario 5.
const mixSet = 32

// newMix builds scenario 5's sources from valid tokens.
func newMix(valid []string) (bare, edge Source) {
	v := make([]string, len(valid))
	inv := make([]string, len(valid))
	for i, t := range valid {
		v[i], inv[i] = bearer(t), bearer(badSignature(t))
	}
	return mixSource{valid: v, invalid: inv}, mixSource{valid: v, invalid: inv, checked: true}
}

// repeated builds the sources that send one header value every time.
func repeated(name, value string) (bare, edge Source) {
	s := fixedSource{name: name, value: value, want: http.StatusOK}
	return s, s
}
