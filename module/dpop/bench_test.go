package dpop

import (
	"crypto/sha256"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkCheckES256 is the per-request cost of a fresh ES256 proof:
// parse, signature, thumbprint, ath and the memory replay store. The proofs
// are signed before the timer starts.
func BenchmarkCheckES256(b *testing.B) {
	k := ecKey(b)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln", JKT: Thumbprint(&k.PublicKey)}
	proofs := make([]string, b.N)
	for i := range proofs {
		h, c := proofParts(k, req, "jti-"+strconv.Itoa(i))
		proofs[i] = sign(b, jwt.SigningMethodES256, k, h, c)
	}
	c := newTestChecker(b, nil)
	// The gateway passes the token's SHA-256 it computed for the token
	// cache, so ath costs no second hash.
	sum := sha256.Sum256([]byte(req.AccessToken))
	req.TokenSHA256 = &sum
	b.ReportAllocs()
	b.ResetTimer()
	start := processCPU()
	for i := 0; i < b.N; i++ {
		if _, e := c.Check(bg, proofs[i], req); e != nil {
			b.Fatal(e)
		}
	}
	reportCPU(b, start)
}

// processCPU is the process's user + system CPU time so far. On a shared
// machine the wall time per operation mostly measures waiting; CPU time
// per operation (reported as cpu-ns/op) is what the request costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkParse is the parsing part alone.
func BenchmarkParse(b *testing.B) {
	k := ecKey(b)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "t"}
	h, c := proofParts(k, req, "jti")
	proof := sign(b, jwt.SigningMethodES256, k, h, c)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, e := parse(proof, 0, nil); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkES256Verify is one ES256 signature check alone (golang-jwt over
// crypto/ecdsa), the floor of BenchmarkCheckES256: the difference is what
// parsing, the claims, ath, the thumbprint and the replay store add.
func BenchmarkES256Verify(b *testing.B) {
	k := ecKey(b)
	req := Request{Method: "GET", URL: "https://api.example/res", AccessToken: "t"}
	h, c := proofParts(k, req, "jti")
	proof := sign(b, jwt.SigningMethodES256, k, h, c)
	p, e := parse(proof, 0, nil)
	if e != nil {
		b.Fatal(e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := processCPU()
	for i := 0; i < b.N; i++ {
		if err := jwt.SigningMethodES256.Verify(p.signingInput, p.sig, p.Key); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
