package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/edgeauth/caddy-edgeauth/module/oidc"
	"github.com/edgeauth/caddy-edgeauth/module/token"
)

// cpuBudgets are per-request CPU budgets over scenario 1 (a cached token,
// which carries the cost of the headers): a scenario's added Caddy CPU
// over bare Caddy, minus scenario 1's, must stay within its budget.
var cpuBudgets = map[int]time.Duration{
	2: 50 * time.Microsecond, // one RS256 check (≈ 35 µs) + ≈ 15 µs for everything else a new token costs
	8: 45 * time.Microsecond, // one ES256 proof check + thumbprint, replay cache and parsing
}

// signatureChecks names the one signature check a scenario with a budget
// makes per request beyond scenario 1's work, so that its note can say what
// is left once that check (measured in this process) is taken out.
var signatureChecks = map[int]struct {
	name string
	cost func(*cpuCosts) time.Duration
}{
	2: {"RS256", func(c *cpuCosts) time.Duration { return c.RS256 }},
	8: {"ES256", func(c *cpuCosts) time.Duration { return c.ES256 }},
}

// cpuCosts are the CPU times of single operations on this machine,
// measured in this process before any server starts, so that per-request
// budgets can be read against them.
type cpuCosts struct {
	RS256    time.Duration // one RSA-2048 PKCS#1 v1.5 SHA-256 signature check
	ES256    time.Duration // one P-256 ECDSA SHA-256 signature check
	NewToken time.Duration // one new RS256 token through edgeauth's verifier
}

// costBatches and costBatchCPU: each operation runs in this many batches of
// at least this much process CPU; the median batch is reported.
const (
	costBatches  = 3
	costBatchCPU = 150 * time.Millisecond
)

// measureCPUCosts times one RS256 and one ES256 verification (through
// golang-jwt, as edgeauth verifies) and one whole verification of a new
// RS256 token by token.Verifier (parse, signature, claims), in process CPU
// time (user + system, garbage collection included), which other load on
// the machine hardly moves.
func measureCPUCosts() (cpuCosts, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return cpuCosts{}, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cpuCosts{}, err
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": "https://idp.example", "aud": "app", "sub": "user-1", "scope": "openid profile",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "id-1",
	}
	sign := func(m jwt.SigningMethod, key any) (string, error) {
		t := jwt.NewWithClaims(m, claims)
		t.Header["kid"] = "k"
		return t.SignedString(key)
	}
	rsTok, err := sign(jwt.SigningMethodRS256, rsaKey)
	if err != nil {
		return cpuCosts{}, err
	}
	esTok, err := sign(jwt.SigningMethodES256, ecKey)
	if err != nil {
		return cpuCosts{}, err
	}
	sigCheck := func(m jwt.SigningMethod, tok string, pub any) func() error {
		input, sig := signingParts(tok)
		return func() error { return m.Verify(input, sig, pub) }
	}
	v := token.NewVerifier("p", token.Rules{Issuer: "https://idp.example", Audiences: []string{"app"}},
		oneKey{oidc.Key{ID: "k", Public: &rsaKey.PublicKey}})
	ctx := context.Background()
	var out cpuCosts
	for _, m := range []struct {
		into *time.Duration
		op   func() error
	}{
		{&out.RS256, sigCheck(jwt.SigningMethodRS256, rsTok, &rsaKey.PublicKey)},
		{&out.ES256, sigCheck(jwt.SigningMethodES256, esTok, &ecKey.PublicKey)},
		{&out.NewToken, func() error { _, err := v.Verify(ctx, rsTok); return err }},
	} {
		if *m.into, err = cpuPerOp(m.op); err != nil {
			return cpuCosts{}, err
		}
	}
	return out, nil
}

// signingParts splits a compact JWS into its signing input and decoded
// signature.
func signingParts(tok string) (string, []byte) {
	dot := len(tok) - 1
	for tok[dot] != '.' {
		dot--
	}
	sig, _ := jwt.NewParser().DecodeSegment(tok[dot+1:])
	return tok[:dot], sig
}

// cpuPerOp runs op in batches and returns the median batch's process CPU
// time per call.
func cpuPerOp(op func() error) (time.Duration, error) {
	for range 20 { // warm up
		if err := op(); err != nil {
			return 0, err
		}
	}
	var per []time.Duration
	for range costBatches {
		start, err := selfCPU()
		if err != nil {
			return 0, err
		}
		n := 0
		for {
			if err := op(); err != nil {
				return 0, err
			}
			n++
			if n%32 != 0 {
				continue
			}
			now, err := selfCPU()
			if err != nil {
				return 0, err
			}
			if used := now - start; used >= costBatchCPU {
				per = append(per, used/time.Duration(n))
				break
			}
		}
	}
	slices.Sort(per)
	return per[len(per)/2], nil
}

// oneKey is a KeySource with one key.
type oneKey struct{ k oidc.Key }

func (o oneKey) Key(_ context.Context, kid string) (oidc.Key, error) {
	if kid != o.k.ID {
		return oidc.Key{}, oidc.ErrUnknownKey
	}
	return o.k, nil
}

func (o oneKey) Keys() []oidc.Key { return []oidc.Key{o.k} }

// costLine is the report's line with the costs.
func (c *cpuCosts) costLine() string {
	return fmt.Sprintf("- One verification's CPU time on this machine (measured in this process, median of %d batches): RS256 (RSA-2048) %s, ES256 (P-256) %s; a new RS256 token through edgeauth's verifier (parse, signature, claims) %s. Scenario budgets are read against these.\n",
		costBatches, fmtMicros(c.RS256), fmtMicros(c.ES256), fmtMicros(c.NewToken))
}

// fmtMicros formats a short CPU time in microseconds with one decimal.
func fmtMicros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// cpuOverCached is the note comparing a scenario's added CPU with scenario
// 1's against its budget, or "" when the scenario has none.
func (rep *report) cpuOverCached(r *row) string {
	budget, ok := cpuBudgets[r.info.id]
	if !ok {
		return ""
	}
	var cached *row
	for _, other := range rep.rows {
		if other.info.id == 1 && other.unavailable == "" {
			cached = other
		}
	}
	if cached == nil {
		return fmt.Sprintf("CPU budget: scenario 1 + %s (run scenario 1 too to compare)", fmtAdded(budget))
	}
	e, b, ce, cb := summarize(r.edge).cpu, summarize(r.bare).cpu, summarize(cached.edge).cpu, summarize(cached.bare).cpu
	if e <= 0 || b <= 0 || ce <= 0 || cb <= 0 {
		return "" // CPU not measured
	}
	added, base := e-b, ce-cb
	verdict := "within"
	if added-base > budget {
		verdict = "**over**"
	}
	note := fmt.Sprintf("CPU over scenario 1: %s (budget %s: %s)", fmtAdded(added-base), fmtAdded(budget), verdict)
	if sc, ok := signatureChecks[r.info.id]; ok && rep.costs != nil {
		if one := sc.cost(rep.costs); one > 0 {
			note += fmt.Sprintf("; beyond the signature check: %s (CPU over scenario 1 minus one %s check, %s)",
				fmtMicrosSigned(added-base-one), sc.name, fmtMicros(one))
		}
	}
	return note
}

// fmtMicrosSigned formats a CPU difference in microseconds with one decimal
// and its sign.
func fmtMicrosSigned(d time.Duration) string {
	return fmt.Sprintf("%+.1f µs", float64(d)/float64(time.Microsecond))
}
