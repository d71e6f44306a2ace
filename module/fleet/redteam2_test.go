package fleet

import (
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// slowReplyProxy forwards TCP to Redis; while delay is set, every byte from
// Redis to the client is held for that long (commands go through at once),
// as a congested or lossy return path does (TCP retransmissions).
type slowReplyProxy struct {
	ln     net.Listener
	target string
	delay  atomic.Int64
}

func newSlowReplyProxy(t *testing.T, target string) *slowReplyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowReplyProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); u.Close() })
			go func() { _, _ = io.Copy(u, c) }()
			go p.delayed(c, u)
		}
	}()
	return p
}

type chunk struct {
	at   time.Time
	data []byte
}

func (p *slowReplyProxy) delayed(dst, src net.Conn) {
	ch := make(chan chunk, 1024)
	go func() {
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.data); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ch <- chunk{at: time.Now().Add(time.Duration(p.delay.Load())), data: append([]byte(nil), buf[:n]...)}
		}
		if err != nil {
			close(ch)
			return
		}
	}
}

// TestRedTeam2NearCacheJoinedReadOutlivesRevocation: concurrent near-cache
// misses of one key share one Redis read (singleflight), "started at most
// one read timeout before any of them: far inside the revocation bound" —
// true only for the default 500ms timeout. With the documented `timeout`
// raised (here 3s) and a slow return path, a request that arrives more than
// 1 s after a logout joins a read that Redis executed before the logout and
// is answered with the logged-out session. Without the near-cache the same
// request sends its own GET, which Redis runs after the DEL: refused.
// README: "A revoked session is refused by every instance within 1 s".
func TestRedTeam2NearCacheJoinedReadOutlivesRevocation(t *testing.T) {
	t.Run("near_cache off (control)", func(t *testing.T) { joinedReadTrial(t, false) })
	t.Run("near_cache on", func(t *testing.T) { joinedReadTrial(t, true) })
}

func joinedReadTrial(t *testing.T, near bool) {
	rs := startRedis(t)
	a := newNearStore(t, rs.addr())
	p := newSlowReplyProxy(t, rs.addr())
	b := newTestStore(t, newClient(t, p.ln.Addr().String(), func(c *Config) {
		c.ReadTimeout, c.WriteTimeout, c.DialTimeout = 3*time.Second, 3*time.Second, 3*time.Second
	}), func(c *StoreConfig) {
		if near {
			c.NearCache = &NearCacheConfig{}
		}
	})

	s := testSession("https://op.example", "alice", "sid-rt")
	r := save(t, a, s)

	// b has served this session before (its pool has a connection; its
	// near-cache a copy, which the slow link below stops it trusting).
	if _, err := b.Load(r); err != nil {
		t.Fatal(err)
	}
	const delay = 1800 * time.Millisecond
	p.delay.Store(int64(delay))
	first := make(chan error, 1)
	go func() { _, err := b.Load(r); first <- err }() // a read Redis runs now; its reply is slow
	time.Sleep(150 * time.Millisecond)

	revoked := time.Now()
	if err := a.Clear(httptest.NewRecorder(), r); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(revoked.Add(1200 * time.Millisecond)))
	arrived := time.Since(revoked)
	got, err := b.Load(r) // arrives 1.2 s after the logout
	ferr := <-first
	t.Logf("second Load after %s: sess=%v err=%v; first err=%v; took %s", arrived, got != nil, err, ferr, time.Since(revoked)-arrived)
	switch {
	case err == nil && got != nil && got.ID == s.ID:
		t.Errorf("a request arriving %s after the logout was answered with the logged-out session (joined a read begun before the logout); bound 1s", arrived.Round(time.Millisecond))
	case err != nil && !errors.Is(err, session.ErrNoSession) && !errors.Is(err, ErrUnavailable):
		t.Fatalf("Load: %v", err)
	}
}
