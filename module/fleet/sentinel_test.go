package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
	"github.com/edgeauth/caddy-edgeauth/module/session"
)

// The fleet on a real Sentinel setup (a master, a replica, three
// Sentinels; redistest.StartSentinel): the master is killed (SIGKILL)
// while two instances serve six users; the Sentinels promote the replica
// and the instances follow without a restart.

func sentinelClient(t *testing.T, s *redistest.Sentinel) *Client {
	t.Helper()
	return newClient(t, s.Addrs()[0], func(c *Config) {
		c.Addrs, c.MasterName, c.KeyPrefix = s.Addrs(), redistest.SentinelMasterName, "sn:"
	})
}

// loadOutcome counts the answers of Load during the failover.
type loadOutcome struct {
	ok, unavailable atomic.Int64
	mu              sync.Mutex
	bad             []string
	lastUnavailable atomic.Int64 // Unix nanoseconds
}

func (o *loadOutcome) fail(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.bad) < 20 {
		o.bad = append(o.bad, fmt.Sprintf(format, args...))
	}
}

func TestSentinelFailoverKeepsServing(t *testing.T) {
	began := time.Now()
	sn := redistest.StartSentinel(t)
	t.Logf("master, replica and three sentinels ready in %s", time.Since(began).Round(time.Millisecond))
	stores := []*Store{newTestStore(t, sentinelClient(t, sn)), newTestStore(t, sentinelClient(t, sn))}

	// Six users log in on alternating instances; every write is replicated.
	const users = 6
	var sessions []*session.Session
	var cookies []*http.Request
	for i := range users {
		s := testSession(testIssuer, fmt.Sprintf("user-%d", i), fmt.Sprintf("sid-%d", i))
		sessions = append(sessions, s)
		cookies = append(cookies, save(t, stores[i%2], s))
	}
	sn.WaitReplicated(t)

	// Traffic: each user asks both instances in turn until stopped. Every
	// answer must be the user's own session or ErrUnavailable with a
	// Retry-After, within 2 s.
	var out loadOutcome
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				st := stores[n%2]
				r := cookies[u].Clone(context.Background())
				t0 := time.Now()
				got, err := st.Load(r)
				took := time.Since(t0)
				switch {
				case took > 2*time.Second:
					out.fail("user %d, instance %d: Load took %s", u, n%2, took)
				case err == nil && got.ID == sessions[u].ID && got.Subject == sessions[u].Subject && got.AccessToken == sessions[u].AccessToken:
					out.ok.Add(1)
				case err == nil:
					out.fail("user %d, instance %d: got the session of %q (id match %v)", u, n%2, got.Subject, got.ID == sessions[u].ID)
				case errors.Is(err, ErrUnavailable):
					if ra, ok := RetryAfter(err); !ok || ra < time.Second {
						out.fail("user %d: unavailable without a Retry-After ≥ 1s: %v", u, err)
					}
					out.unavailable.Add(1)
					out.lastUnavailable.Store(time.Now().UnixNano())
				default:
					out.fail("user %d, instance %d: %v (a replicated session must survive the failover)", u, n%2, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	before := out.ok.Load()
	old := sn.KillMaster(t)
	killed := time.Now()
	// Logins during the failover window fail as unavailable, never hang.
	t0 := time.Now()
	err := stores[0].Save(httptest.NewRecorder(), httptest.NewRequest("GET", "http://app.example.com/", nil), testSession(testIssuer, "late", "sid-late"))
	if err != nil && !errors.Is(err, ErrUnavailable) || time.Since(t0) > 2*time.Second {
		t.Errorf("login while the master is down: %v after %s; want success or ErrUnavailable within 2s", err, time.Since(t0))
	}
	promoted := sn.WaitFailover(t, old, 20*time.Second)
	t.Logf("sentinels promoted %s %s after the kill", promoted, time.Since(killed).Round(time.Millisecond))
	// Every user is served again by both instances, without a restart.
	waitFor(t, 10*time.Second, "every instance to serve every user again", func() bool {
		for _, st := range stores {
			for _, c := range cookies {
				if _, err := st.Load(c.Clone(context.Background())); err != nil {
					return false
				}
			}
		}
		return true
	})
	recovered := time.Now()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, msg := range out.bad {
		t.Error(msg)
	}
	if out.unavailable.Load() == 0 {
		t.Error("no request saw the failover window (ErrUnavailable); the master was not really gone")
	}
	if out.ok.Load() <= before {
		t.Error("no successful load after the failover")
	}
	t.Logf("loads: %d served, %d unavailable; back %s after the kill (last unavailable answer %s after it)", out.ok.Load(), out.unavailable.Load(),
		recovered.Sub(killed).Round(time.Millisecond), time.Unix(0, out.lastUnavailable.Load()).Sub(killed).Round(time.Millisecond))

	// After the failover: a login on one instance is seen by the other, a
	// logout on the other ends it for both, and back-channel logout works.
	s := testSession(testIssuer, "after", "sid-after")
	r := save(t, stores[0], s)
	if got, err := stores[1].Load(r); err != nil || got.ID != s.ID {
		t.Fatalf("a login after the failover, read by the other instance: %v, %v", got, err)
	}
	if err := stores[1].Clear(httptest.NewRecorder(), r); err != nil {
		t.Fatalf("logout after the failover: %v", err)
	}
	if _, err := stores[0].Load(r); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("after the logout: %v, want no session", err)
	}
	if n, err := stores[1].End(context.Background(), testIssuer, "sid-0", ""); err != nil || n != 1 {
		t.Fatalf("back-channel logout of user-0's sid after the failover: %d, %v; want 1", n, err)
	}
	if _, err := stores[0].Load(cookies[0]); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("user-0 after the back-channel logout: %v, want no session", err)
	}
	t.Logf("sentinel test took %s", time.Since(began).Round(time.Millisecond))
}
