package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// BenchmarkGateway measures whole requests through a real Caddy in-process
// over loopback: bare reverse_proxy, a cached bearer token, and a cached
// bearer token plus cached STS credentials, a cached bearer token with a
// (cached) signed identity assertion — the same upstream for all, so
// the differences are edgeauth's cost. Compare the ns/op of the sub-benchmarks
// (ratios, not absolute numbers):
//
//	go test ./integration -run XXX -bench Gateway -benchmem
func BenchmarkGateway(b *testing.B) {
	w := newSTSWorld(b, demoidp.Options{})
	// A trivial upstream, so that the answer's size is the same on every route.
	trivial := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(rw, "ok")
	}))
	defer trivial.Close()
	w.upstream = strings.TrimPrefix(trivial.URL, "http://")
	w.start(withStorage(w.globals(w.providerBlock("demo")+"\n"+w.stsBlock()+"\n"+assertionBlock()), b.TempDir()) + fmt.Sprintf(`http://127.0.0.1:%d {
	route /bare/* {
		reverse_proxy %[2]s
	}
	route /bearer/* {
		edgeauth demo
		reverse_proxy %[2]s
	}
	route /sts/* {
		edgeauth demo {
			sts alibaba
		}
		reverse_proxy %[2]s
	}
	route /assertion/* {
		edgeauth demo {
			assertion
		}
		reverse_proxy %[2]s
	}
}
`, w.port, w.upstream))
	alice := w.aliceToken()
	waitFor(b, "keys", 10*time.Second, func() bool {
		resp, _ := w.get("/sts/x", alice)
		return resp.StatusCode == http.StatusOK
	})
	if len(w.emu.Issued()) == 0 {
		b.Fatal("the STS route made no exchange")
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, path := range []string{"/bare/x", "/bearer/x", "/sts/x", "/assertion/x"} {
		b.Run(path[1:len(path)-2], func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, w.url(path), nil)
			req.Header.Set("Authorization", "Bearer "+alice)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkUpstreamRequestLogFields measures what Caddy's reverse_proxy
// pays per request for every byte of upstream request headers: it JSON-
// encodes the whole upstream request into a logger.With field eagerly, at
// any log level (reverseproxy.go, "upstream roundtrip"). An identity
// assertion (~750 bytes) is such a header, so most of what a route with
// `assertion` adds to a cached request is spent here, not in edgeauth
// (BenchmarkAssertionCached in module/assertsign is the plugin's part):
//
//	go test ./integration -run XXX -bench UpstreamRequestLogFields -benchmem
func BenchmarkUpstreamRequestLogFields(b *testing.B) {
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.ErrorLevel))
	for _, assertion := range []bool{false, true} {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/x", nil)
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 900))
		for _, h := range []string{"X-Auth-Subject", "X-Auth-Issuer", "X-Auth-Scopes", "X-Auth-Account-Id", "X-Auth-User-Id", "X-Auth-User-Type", "X-Auth-Upn", "X-Auth-Name", "X-Auth-Email"} {
			req.Header.Set(h, "2000000000000002")
		}
		name := "identity headers"
		if assertion {
			name = "identity headers + assertion"
			req.Header.Set("X-Auth-Assertion", strings.Repeat("eyJhbGciOiJFUzI1NiIsImtpZCI6", 27)) // 756 bytes
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = logger.With(zap.String("upstream", "127.0.0.1:9000"), zap.Object("request", caddyhttp.LoggableHTTPRequest{Request: req}))
			}
		})
	}
}
