package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
)

// soakDuration is how long TestSoakReloadsUnderLoad runs: 20s by default
// (CI), or EDGEAUTH_SOAK_DURATION (a Go duration such as 5m) for longer
// local runs.
func soakDuration(t *testing.T) time.Duration {
	s := os.Getenv("EDGEAUTH_SOAK_DURATION")
	if s == "" {
		return 20 * time.Second
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 5*time.Second {
		t.Fatalf("EDGEAUTH_SOAK_DURATION=%q: want a Go duration of at least 5s", s)
	}
	return d
}

// soakSite is the soak's Caddyfile: the bearer site with one more public
// path (which differs between the two configs) and a short keep-alive to
// the upstream. Caddy closes an old reverse_proxy transport's idle
// connections at Cleanup, but connections still busy then go back to the old
// transport's pool and stay until its idle timeout (2m by default): under
// load every reload leaves a few such connections behind for that long. They
// are Caddy's and bounded in time, not a leak; the 1s keep-alive lets the
// goroutine check below see past them.
func soakSite(e *env, public string) string {
	// The provider block equals bearerSite's, so the provider (and its
	// keys) that startBearer loaded is reused, not replaced by a new one.
	return e.globals(e.providerBlock("demo", "max_token_age 12h", "thumbprints "+e.idp.CAThumbprint())) + fmt.Sprintf(`http://127.0.0.1:%d {
	edgeauth demo {
		public /healthz %s
		scope /dns/* /acs/alidns
	}
	reverse_proxy %s {
		transport http {
			keepalive 1s
		}
	}
}
`, e.port, public, e.upstream)
}

// reloadReset classifies a client error that Caddy's reload itself causes,
// outside edgeauth; "" means the error is not one of them.
//
//   - "accept queue": connect() reset. Caddy binds each config's listener
//     with SO_REUSEPORT; Linux spreads new connections over the old and new
//     sockets during a reload and, unless net.ipv4.tcp_migrate_req is 1,
//     resets those still queued on the old socket when it closes. (Verified:
//     with tcp_migrate_req=1 these disappear.)
//   - "fresh connection closed": EOF before any response on a connection
//     that was just dialed (a reused one would have been retried by the Go
//     client). Seen a few times per hundred reloads on a busy machine, also
//     with tcp_migrate_req=1; the old server closes a connection it has just
//     accepted. Not explained further yet.
func reloadReset(err error, reused bool) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "connect: connection reset by peer"):
		return "accept queue"
	case !reused && strings.HasSuffix(msg, ": EOF"):
		return "fresh connection closed"
	}
	return ""
}

// tcpMigrateReq reports whether the kernel migrates queued connections from
// a closing SO_REUSEPORT socket to its siblings.
func tcpMigrateReq() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_migrate_req")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}

// soakClient is one load generator: its own connection pool, a few
// pre-minted tokens and now and then a freshly minted one, so that both the
// verified-token cache and full signature checks are exercised.
type soakClient struct {
	ok, failed, drops, queueDrops atomic.Int64
	mu                            sync.Mutex
	failures                      []string
}

func (c *soakClient) fail(start time.Time, msg string) {
	c.failed.Add(1)
	c.note(start, msg)
}

func (c *soakClient) note(start time.Time, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failures) < 5 {
		c.failures = append(c.failures, fmt.Sprintf("%6.2fs %s", time.Since(start).Seconds(), msg))
	}
}

// heapAfterGC returns the live heap in bytes after two collections.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSoakReloadsUnderLoad runs 8 clients with valid tokens while the
// config is reloaded every 200ms, alternating two configs, and the IdP goes
// down for the middle third of the run and comes back. Every request must
// get 200 (a connection error is a failure too), and goroutines and heap
// must not grow with the number of reloads.
func TestSoakReloadsUnderLoad(t *testing.T) {
	duration := soakDuration(t)
	const clients = 8
	e, alice := startBearer(t, demoidp.Options{})
	configs := [2][]byte{adapt(t, soakSite(e, "/soak-a")), adapt(t, soakSite(e, "/soak-b"))}
	reload := func(i int) error { return caddy.Load(configs[i%2], true) }

	// Warm up: what a reload creates lazily exists before the baseline.
	for i := 0; i < 4; i++ {
		if err := reload(i); err != nil {
			t.Fatalf("warm-up reload: %v", err)
		}
		e.upstreamSaw(e.get("/", alice))
	}
	e.scrapeMetrics()
	e.client.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	baseGoroutines := runtime.NumGoroutine()
	baseHeap := heapAfterGC()

	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cs := make([]*soakClient, clients)
	transports := make([]*http.Transport, clients)
	for i := range cs {
		cs[i] = &soakClient{}
		transports[i] = &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
		pool := make([]string, 4)
		for j := range pool {
			pool[j] = e.aliceToken()
		}
		wg.Add(1)
		go func(c *soakClient, tr *http.Transport, pool []string) {
			defer wg.Done()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				tok := pool[n%len(pool)]
				if n%10 == 9 { // a token never seen: verified with the cached keys
					var err error
					if tok, err = e.idp.MintFor("alice", []string{"openid", "profile"}); err != nil {
						c.fail(start, "mint: "+err.Error())
						continue
					}
				}
				req, _ := http.NewRequest(http.MethodGet, e.url(fmt.Sprintf("/soak/%d", n)), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				reused := false
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
				}))
				resp, err := client.Do(req)
				if err != nil {
					if kind := reloadReset(err, reused); kind != "" {
						c.drops.Add(1)
						if kind == "accept queue" {
							c.queueDrops.Add(1)
						}
						c.note(start, "reset by Caddy's reload ("+kind+"): "+err.Error())
					} else {
						c.fail(start, "transport: "+err.Error())
					}
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					c.fail(start, "reading the body: "+err.Error())
				case resp.StatusCode != http.StatusOK:
					c.fail(start, fmt.Sprintf("status %d: %.200s", resp.StatusCode, body))
				default:
					c.ok.Add(1)
				}
			}
		}(cs[i], transports[i], pool)
	}

	// Reload every 200ms; the IdP is down for the middle third.
	reloads, reloadErrs := 0, 0
	idpDown := false
	tick := time.NewTicker(200 * time.Millisecond)
	for time.Since(start) < duration {
		<-tick.C
		el := time.Since(start)
		switch {
		case !idpDown && el > duration/3 && el < 2*duration/3:
			e.idp.SetDown(true)
			idpDown = true
			t.Logf("%6.2fs IdP down", el.Seconds())
		case idpDown && el >= 2*duration/3:
			e.idp.SetDown(false)
			idpDown = false
			t.Logf("%6.2fs IdP up", el.Seconds())
		}
		if err := reload(reloads); err != nil {
			reloadErrs++
			t.Errorf("reload %d: %v", reloads, err)
		}
		reloads++
	}
	tick.Stop()
	e.idp.SetDown(false)
	close(stop)
	wg.Wait()

	var ok, failed, drops, queueDrops int64
	for i, c := range cs {
		ok += c.ok.Load()
		failed += c.failed.Load()
		drops += c.drops.Load()
		queueDrops += c.queueDrops.Load()
		for _, f := range c.failures {
			t.Logf("client %d: %s", i, f)
		}
	}
	t.Logf("%s: %d reloads (%d failed), %d requests answered 200, %d failed, %d reset by Caddy's reload (%d from the accept queue; tcp_migrate_req %v)",
		duration, reloads, reloadErrs, ok, failed, drops, queueDrops, tcpMigrateReq())
	if failed != 0 {
		t.Errorf("%d of %d requests failed during reloads", failed, ok+failed+drops)
	}
	// Connections reset by the reload itself (see reloadReset) are Caddy's
	// and Linux's behaviour, not edgeauth's: counted and shown, accept-queue
	// resets tolerated only where the kernel cannot migrate them, and only
	// the occasional one per reload.
	switch {
	case queueDrops > 0 && tcpMigrateReq():
		t.Errorf("%d connections were reset in the accept queue although net.ipv4.tcp_migrate_req is 1", queueDrops)
	case drops > int64(reloads)/4+1:
		t.Errorf("%d connections were reset over %d reloads: more than the occasional accept-queue drop", drops, reloads)
	}
	if ok < int64(clients)*10 {
		t.Errorf("only %d requests succeeded: the load did not run", ok)
	}
	if minReloads := int(duration / (400 * time.Millisecond)); reloads < minReloads {
		t.Errorf("%d reloads, want at least %d", reloads, minReloads)
	}

	// After the run: the provider recovered by itself and still validates.
	e.upstreamSaw(e.get("/", e.aliceToken()))

	// No growth: once the clients' connections are closed and Caddy's old
	// servers have finished, goroutines and the heap are back near the
	// baseline taken after warm-up, whatever the number of reloads.
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	e.client.CloseIdleConnections()
	const goroutineSlack = 20
	deadline := time.Now().Add(15 * time.Second)
	var g int
	for {
		g = runtime.NumGoroutine()
		if g <= baseGoroutines+goroutineSlack || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	heap := heapAfterGC()
	t.Logf("goroutines %d → %d; heap %.1f MiB → %.1f MiB", baseGoroutines, g, float64(baseHeap)/(1<<20), float64(heap)/(1<<20))
	if g > baseGoroutines+goroutineSlack {
		t.Errorf("goroutines grew from %d to %d over %d reloads; by creator:\n%s", baseGoroutines, g, reloads, goroutineSummary(15))
	}
	// 16 MiB covers the token cache and connection buffers of one config; a
	// leak of one config per reload would exceed it after ~100 reloads.
	if heap > baseHeap+16<<20 {
		t.Errorf("heap grew from %.1f MiB to %.1f MiB over %d reloads", float64(baseHeap)/(1<<20), float64(heap)/(1<<20), reloads)
	}
}

// goroutineSummary groups the live goroutines by the function they run and
// the function that created them, most frequent first.
func goroutineSummary(top int) string {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	counts := map[string]int{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) < 2 {
			continue
		}
		fn := funcName(lines[1])
		created := ""
		for i, l := range lines {
			if strings.HasPrefix(l, "created by ") {
				created = " ← " + funcName(strings.TrimPrefix(l, "created by "))
			}
			// The first frame outside the runtime and internal/poll says more.
			if i > 1 && i%2 == 1 && (strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/")) && !strings.HasPrefix(l, "created by ") {
				fn = funcName(l)
			}
		}
		counts[fn+created]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	var b strings.Builder
	for i, k := range keys {
		if i == top {
			break
		}
		fmt.Fprintf(&b, "%6d %s\n", counts[k], k)
	}
	return b.String()
}

// funcName trims a stack line to the function name.
func funcName(line string) string {
	line = strings.TrimSpace(line)
	if i := strings.Index(line, " in goroutine"); i > 0 {
		line = line[:i]
	}
	if strings.HasSuffix(line, ")") {
		if i := strings.LastIndexByte(line, '('); i > 0 {
			line = line[:i]
		}
	}
	return line
}
