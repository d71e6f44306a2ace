package fleet

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// waitFor polls f until it is true or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOutageFailsClosedQuicklyAndRecovers(t *testing.T) {
	rs := startRedis(t)
	te := newTokenEndpoint(t)
	in := newFleetInstance(t, rs.addr(), te.srv.URL, true)
	st := in.store
	cookie := save(t, st, testSession("https://op.example", "alice", "sid-1"))
	if _, err := st.Load(cookie); err != nil {
		t.Fatal(err)
	}

	rs.stop()
	for i := range 3 {
		start := time.Now()
		s, err := st.Load(cookie)
		took := time.Since(start)
		if s != nil || !errors.Is(err, ErrUnavailable) || errors.Is(err, session.ErrNoSession) {
			t.Fatalf("Load %d with Redis down: (%v, %v), want an ErrUnavailable error", i, s, err)
		}
		if took > 2*time.Second {
			t.Fatalf("Load %d with Redis down took %v, want < 2s", i, took)
		}
		t.Logf("Load %d with Redis killed: %v", i, took.Round(time.Microsecond))
		if ra, ok := RetryAfter(err); !ok || ra < time.Second || ra > 2*time.Second {
			t.Errorf("RetryAfter = %v, %v", ra, ok)
		}
	}
	// The flow passes the store error on (the handler answers 503), and
	// does not treat the caller as logged out.
	if _, err := in.flow.Session(context.Background(), httptest.NewRecorder(), cookie); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Flow.Session with Redis down: %v", err)
	}
	if err := st.Save(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), testSession("https://op.example", "bob", "")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Save with Redis down: %v", err)
	}
	rec := httptest.NewRecorder()
	if err := st.Clear(rec, cookie); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Clear with Redis down: %v", err)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Error("Clear with Redis down did not expire the cookie")
	}
	if err := st.c.Ping(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping with Redis down: %v", err)
	}

	// Restart (no persistence: the old session is gone). The same client
	// recovers by itself.
	rs.start()
	waitFor(t, 5*time.Second, "store usable again after restart", func() bool {
		_, err := st.Load(cookie)
		return errors.Is(err, session.ErrNoSession)
	})
	fresh := save(t, st, testSession("https://op.example", "carol", ""))
	if s, err := st.Load(fresh); err != nil || s.Subject != "carol" {
		t.Fatalf("after recovery: %v, %v", s, err)
	}
}

// A Redis that accepts connections but never answers: timeouts, not a hang.
func TestOutageUnresponsiveRedisTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()
	c, err := New(Config{Addrs: []string{l.Addr().String()}, KeyPrefix: "test:"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := newTestStore(t, c)
	// A valid sealed ID cookie, made by a store on a working Redis.
	rs := startRedis(t)
	cookie := save(t, newTestStore(t, newClient(t, rs.addr())), testSession("https://op.example", "alice", ""))

	start := time.Now()
	_, err = st.Load(cookie)
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) || took > 2*time.Second {
		t.Fatalf("Load against an unresponsive Redis: %v after %v; want ErrUnavailable in < 2s", err, took)
	}
	t.Logf("Load against an unresponsive Redis failed after %v", took.Round(time.Millisecond))
	// Right after, calls fail at once instead of waiting again.
	start = time.Now()
	if _, err := st.Load(cookie); !errors.Is(err, ErrUnavailable) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("second Load: %v after %v; want an immediate ErrUnavailable", err, time.Since(start))
	}
}

func TestOutageCookieFallback(t *testing.T) {
	rs := startRedis(t)
	st := newTestStore(t, newClient(t, rs.addr()), func(c *StoreConfig) { c.Fallback = FallbackCookie })
	idCookie := save(t, st, testSession("https://op.example", "alice", "sid-1"))

	rs.stop()
	// An ID cookie cannot be resolved: not logged in (the browser logs in
	// again), never an error page.
	if _, err := st.Load(idCookie); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("ID cookie with Redis down under fallback: %v, want ErrNoSession", err)
	}
	// A new login is sealed whole into the cookie and works during the outage.
	s := testSession("https://op.example", "alice", "sid-2")
	rec := httptest.NewRecorder()
	if err := st.Save(rec, httptest.NewRequest("GET", "/", nil), s); err != nil {
		t.Fatalf("Save under fallback: %v", err)
	}
	fb := withCookies(rec)
	if len(fb.Cookies()[0].Value) < 500 {
		t.Fatalf("fallback cookie of %d bytes does not hold the session", len(fb.Cookies()[0].Value))
	}
	if got, err := st.Load(fb); err != nil || got.AccessToken != s.AccessToken {
		t.Fatalf("fallback session during the outage: %v", err)
	}

	// Redis back: the fallback session, which Redis never knew and so could
	// not be logged out, is refused; new sessions go to Redis again.
	rs.start()
	waitFor(t, 5*time.Second, "fallback cookie refused after recovery", func() bool {
		_, err := st.Load(fb)
		return errors.Is(err, session.ErrNoSession)
	})
	r := save(t, st, testSession("https://op.example", "alice", "sid-3"))
	if len(r.Cookies()[0].Value) > 200 {
		t.Error("after recovery the session still went into the cookie")
	}
	if _, err := st.Load(r); err != nil {
		t.Fatal(err)
	}

	// Under the default, a whole-session cookie is never accepted.
	closed := newTestStore(t, st.c)
	if _, err := closed.Load(fb); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("closed store accepted a cookie session: %v", err)
	}
}

// pastDeadline is a context whose deadline has passed but which is not done
// yet: what a command sees when its read fails at the deadline a moment
// before the context's timer fires.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A command cut short by the caller's own deadline says nothing about Redis:
// it must not make every other request fail for RetryInterval (issue 14:
// under CPU load a refresh wait that timed out mid-read answered 503).
func TestCallerDeadlineDoesNotTripTheClient(t *testing.T) {
	rs := startRedis(t)
	c := newClient(t, rs.addr())
	failing := func(context.Context) error { return context.DeadlineExceeded }
	err := c.call(pastDeadline{context.Background()}, "test", failing)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call = %v", err)
	}
	if c.downUntil.Load() != 0 {
		t.Fatal("a command cut by the caller's deadline tripped the client")
	}
	// A failure with time left does trip it (the outage path).
	if err := c.call(context.Background(), "test", failing); !errors.Is(err, ErrUnavailable) || c.downUntil.Load() == 0 {
		t.Fatalf("a real failure did not trip the client: %v", err)
	}
}
