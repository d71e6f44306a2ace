package token

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// cpuPerOp starts counting the process's CPU time; the function it returns
// reports it per operation as cpu-ns/op. On a shared machine ns/op counts
// the time other processes held the CPU; cpu-ns/op counts what the
// benchmark used (its garbage collection included), which load elsewhere
// hardly moves.
func cpuPerOp(b *testing.B) func() {
	start := processCPU()
	return func() {
		if end := processCPU(); start > 0 && end > start {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	raw := signRSA(b, baseClaims())
	ctx := context.Background()
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	raw := signRSA(b, baseClaims())
	c := NewCache(0, 0)
	defer c.Stop()
	id, err := v.Verify(context.Background(), raw)
	if err != nil {
		b.Fatal(err)
	}
	c.Put(raw, id)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, ok := c.Get(raw); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkCacheGetParallel is the cached path with every CPU reading the
// same entry, as under load with one hot token: it shows contention on the
// cache's lock.
func BenchmarkCacheGetParallel(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	raw := signRSA(b, baseClaims())
	c := NewCache(0, 0)
	defer c.Stop()
	id, err := v.Verify(context.Background(), raw)
	if err != nil {
		b.Fatal(err)
	}
	c.Put(raw, id)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get(raw); !ok {
				b.Error("miss")
				return
			}
		}
	})
}

// BenchmarkParse is the structural part of a first verification: size and
// shape checks, header and claims decoding (no signature check).
func BenchmarkParse(b *testing.B) {
	raw := signRSA(b, baseClaims())
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, e := parse(raw, DefaultMaxTokenSize); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkParseGolangJWTUnverified is golang-jwt's own parse of the same
// token as BenchmarkParse (header and claims through encoding/json into
// maps, numbers as json.Number, no signature check), for comparison: it
// is what edgeauth would pay per new token for letting golang-jwt parse,
// before adding the checks it lacks (repeated member names, lossy strings,
// refused headers). See docs/ARCHITECTURE.md, "token".
func BenchmarkParseGolangJWTUnverified(b *testing.B) {
	raw := signRSA(b, baseClaims())
	p := jwt.NewParser(jwt.WithJSONNumber())
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, _, err := p.ParseUnverified(raw, jwt.MapClaims{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachePutDistinct is what scenario 2 of the load tool does to the
// cache: every request caches a new token.
func BenchmarkCachePutDistinct(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	id, err := v.Verify(context.Background(), signRSA(b, baseClaims()))
	if err != nil {
		b.Fatal(err)
	}
	c := NewCache(0, 0)
	defer c.Stop()
	raws := make([]string, 4096)
	for i := range raws {
		raws[i] = fmt.Sprintf("token-%d-%s", i, strings.Repeat("x", 800))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Put(raws[i%len(raws)], id)
		i++
	}
}

// BenchmarkCacheMemory reports the heap held per cached identity (verified
// claims, scopes, cache entry) so that token_cache.max_entries can be turned
// into a memory ceiling. The identity also keeps the raw token (for STS
// exchanges), which the benchmark holds anyway: add token-B per entry.
func BenchmarkCacheMemory(b *testing.B) {
	v := NewVerifier("p", testRules(), newKeySource())
	const n = 2000
	raws := make([]string, n)
	for i := range raws {
		c := baseClaims() // plus what an Alibaba-style token carries
		c["jti"] = fmt.Sprint("id-", i)
		c["scope"] = "openid aliuid profile email"
		c["aid"], c["uid"], c["type"] = "1000000000000000", "2000000000000002", "user"
		c["name"], c["upn"], c["email"] = "Alice Liddell", "alice@example.onaliyun.com", "alice@example.com"
		raws[i] = signRSA(b, c)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		c := NewCache(0, 0)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		for _, raw := range raws {
			id, err := v.Verify(context.Background(), raw)
			if err != nil {
				b.Fatal(err)
			}
			c.Put(raw, id)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/entry")
		b.ReportMetric(float64(len(raws[0])), "token-B")
		runtime.KeepAlive(raws)
		c.Stop()
		b.StartTimer()
	}
}

// BenchmarkDecodePayload compares the strict decoder that every uncached
// verification runs (the one-pass decoder, strictjson.go) with a plain
// encoding/json decode of the same payload (no duplicate check) and with
// the strict decoder it replaced (encoding/json, then a byte scan refusing
// repeated member names).
func BenchmarkDecodePayload(b *testing.B) {
	c := baseClaims() // plus what an Alibaba-style token carries
	c["jti"], c["aid"], c["uid"], c["type"] = "id-1", "1000000000000000", "2000000000000002", "user"
	c["name"], c["upn"], c["email"] = "Alice Liddell", "alice@example.onaliyun.com", "alice@example.com"
	c["org"] = map[string]any{"role": "user", "groups": []string{"a", "b"}}
	raw := signRSA(b, c)
	payload, _ := b64.DecodeString(strings.Split(raw, ".")[1])
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(payload))
			dec.UseNumber()
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			if _, err := decodeStrict(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict-encoding-json+scan", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		for b.Loop() {
			if _, err := decodeStrictStdlib(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeDPoPProofParts is the JSON a DPoP proof (RFC 9449 §4.2)
// brings on every request: its header with the public jwk and its claims,
// each decoded strictly (one object, no repeated names, numbers exact) by
// DecodeClaims (the lossless check and the one-pass decoder), against
// encoding/json with the duplicate scan the project used before
// (decodeStrictStdlib). A proof parser built on DecodeClaims pays the
// "one-pass" figures per request.
func BenchmarkDecodeDPoPProofParts(b *testing.B) {
	header := []byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256",` +
		`"x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"}}`)
	claims := []byte(`{"jti":"e1j3V_bKic8-LAEB","htm":"GET","htu":"https://resource.example.org/protectedresource",` +
		`"iat":1562262618,"ath":"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}`)
	for _, dec := range []struct {
		name string
		fn   func([]byte) (map[string]any, error)
	}{{"one-pass", DecodeClaims}, {"encoding-json+scan", decodeStrictStdlib}} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, err := dec.fn(header); err != nil {
					b.Fatal(err)
				}
				if _, err := dec.fn(claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
