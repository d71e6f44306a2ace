package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// keepMarker separates the generated part of the benchmark file from notes
// written by hand (such as the profile summary), which a rewrite keeps.
const keepMarker = "<!-- edgeauth-load: everything below this line is written by hand and kept when the tool rewrites this file -->"

// benchHeader explains the method; the run's figures follow it.
const benchHeader = `# Benchmarks

What edgeauth costs, measured side by side with bare Caddy ` + "`reverse_proxy`" + ` in
the same run, by the load tool in ` + "`cmd/edgeauth-load`" + ` (issues 5 and 6).
Reproduce with the command below from a checkout (scenario 6 also needs
` + "`redis-server`" + ` on PATH).

## Method

- Everything runs on loopback (127.0.0.1): a trivial upstream answering 200
  "ok" (its own process), the demo OpenID provider (TLS, RSA-2048 RS256 keys),
  bare Caddy (` + "`reverse_proxy`" + ` to the upstream) and Caddy with edgeauth in
  front of the same upstream, each Caddy in its own process (` + "`go build ./cmd/caddy`" + `),
  with ` + "`auto_https off`" + `, ` + "`log { level ERROR }`" + `, no access log, and an admin
  endpoint on loopback for pprof. Scenarios 3 and 4 use their own edgeauth Caddy
  (login and STS wiring); 1, 2 and 5 share one. Scenario 6 uses a Caddy with
  scenario 3's login wiring plus ` + "`session { store redis { … } }`" + ` on a
  ` + "`redis-server`" + ` the tool starts on loopback (no persistence, its own process).
- The generator is closed-loop: N connections (HTTP/1.1 keep-alive, one
  ` + "`http.Transport`" + ` each) send the next request as soon as the answer is read.
  Latency goes into a log-linear histogram (< 0.8 % error) for p50 and p99.
- Interleaved: in each round and scenario, bare Caddy and edgeauth each get a
  warm-up, then take turns in short slices (A B A B …, both keeping their
  connections) until each has been measured for the same time, so that other
  work on the machine weighs on both alike. Throughput and latency are medians
  over rounds; the ratio is the median of the per-round ratios (listed in the
  notes).
- Scenario 2 never measures a reused token: its pool is cut into one share per
  round, and a round whose share runs out ends early (the notes then say how
  long edgeauth was measured).
- Before measuring, every edgeauth setup must enforce — no credential → 401, a
  bad signature → 401, a valid credential → 200 with identity headers at the
  upstream (and X-Sts-* headers for scenario 4) — or the tool refuses to report.
  For scenario 6 it also checks that the session is in Redis: Redis is empty
  before the login and holds keys after it, and the Cookie header is under
  300 bytes (a sealed session ID, where scenario 3's holds the whole session).

## Scenarios and targets

| # | what each request carries | target (edgeauth / bare) |
| --- | --- | --- |
| 1 | the same valid bearer token (a verified-token cache hit) | ≥ 0.95 |
| 2 | a valid bearer token never seen before (pre-minted pool sized from a calibration run; reuse is counted) — one RS256 verification per request | ≥ 0.80 |
| 3 | a browser session cookie from one login (code flow against the demo provider) | ≥ 0.90 |
| 4 | the same bearer token, with STS credentials (cached after the first exchange at the STS emulator) injected as X-Sts-* headers | ≥ 0.90 |
| 5 | 90 % valid tokens (32 distinct, cached) and 10 % with a bad signature (refused with 401 after a verification each time); bare Caddy gets the same requests | ≥ 0.90 |
| 6 | fleet (issue 6): a browser session cookie from one login, as in 3, on a Caddy whose sessions live in Redis — the cookie holds a sealed session ID and every request loads the session from Redis (one GET on loopback) | ≥ 0.80 (this tool's goal; issue 6 sets none) |

"added p50" is edgeauth's median latency minus bare Caddy's. "Caddy CPU per
request" is the CPU time (user + system, from /proc) each Caddy process used
during the run divided by the requests it answered: unlike throughput, other
load on the machine hardly moves it, so it is the steadiest measure of what
edgeauth adds; for scenario 6 the notes also give redis-server's CPU per
request, which the column leaves out. With 32 connections the servers are
saturated, so p50 is mostly queueing (connections ÷ throughput) and "added
p50" follows the throughput ratio; the CPU per request is the closer measure of the latency
edgeauth adds to one request on an idle gateway (docs/CONTRACT.md's "added p50 ≤
50 µs"). The generator shares the CPUs with the servers, so the throughput
ratio also charges edgeauth for the CPU it takes from everyone else — which is
what a 2-core gateway sees.

## Latest run

`

// writeBenchFile writes the header, the run and the kept notes to path.
func writeBenchFile(path string, rep *report) error {
	kept := ""
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if _, tail, ok := strings.Cut(string(old), keepMarker); ok {
			kept = tail
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	text := benchHeader + rep.summaryText() + "\n" + keepMarker + kept
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return os.WriteFile(path, []byte(text), 0o644)
}
