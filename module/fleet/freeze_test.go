package fleet

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// freezeProxy forwards TCP to a Redis server and can freeze: it then stops
// passing bytes either way without closing anything, as a silent network
// partition does (no EOF, no RST).
type freezeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = dst.Close()
			}
			return
		}
	}
}

func (p *freezeProxy) freeze(on bool) {
	p.mu.Lock()
	p.frozen = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *freezeProxy) close() {
	_ = p.ln.Close()
	p.freeze(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

// TestNearCacheSilentPartitionStillWithinBound: instance b's every
// connection to Redis (its invalidation link and its pool) goes silent —
// no EOF, nothing — just before a logout on instance a, whose invalidation
// b therefore never receives. b must not serve the session later than its
// lease after the revocation; then it answers unavailable (fallback
// closed), and once the partition heals it serves again without restart.
func TestNearCacheSilentPartitionStillWithinBound(t *testing.T) {
	rs := startRedis(t)
	px := newFreezeProxy(t, rs.addr())
	a := newNearStore(t, rs.addr())
	b := newNearStore(t, px.addr())
	waitCurrent(t, b)
	s := testSession("https://op.example", "alice", "partition")
	r := save(t, a, s)
	if _, err := b.Load(r); err != nil {
		t.Fatal(err)
	}
	px.freeze(true)
	at := time.Now()
	if err := a.Clear(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	var lastServed time.Duration = -1
	for time.Since(at) < 2*time.Second {
		_, err := b.Load(r)
		switch {
		case err == nil:
			lastServed = time.Since(at)
		case !errors.Is(err, ErrUnavailable):
			t.Fatalf("b during the partition: %v, want the cached session (within the lease) or ErrUnavailable", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if lastServed >= time.Second {
		t.Fatalf("b served the revoked session %s after the revocation (bound 1s)", lastServed)
	}
	t.Logf("silent partition: the revoked session was served until %s after the revocation (lease %s)", lastServed.Round(time.Millisecond), DefaultNearCacheLease)
	px.freeze(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.Load(r)
		if errors.Is(err, ErrSessionEnded) || (err != nil && !errors.Is(err, ErrUnavailable)) {
			break
		}
		if err == nil {
			t.Fatal("after the partition b serves the revoked session")
		}
		if time.Now().After(deadline) {
			t.Fatalf("b did not recover within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitCurrent(t, b)
}
