package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeauth/caddy-edgeauth/integration/demoidp"
	"github.com/edgeauth/caddy-edgeauth/internal/redistest"
)

// The fleet of three gateway processes on Redis Cluster (three masters) and
// on Sentinel (a master, a replica, three Sentinels), both real servers
// started by redistest. The cluster runs the flows of TestFleet; the
// Sentinel test kills the master under traffic.

// TestFleetCluster: login, logout, back-channel logout by sid and by sub,
// one STS exchange and one refresh across the fleet, on a three-master
// cluster; the fleet's keys end up on several masters.
func TestFleetCluster(t *testing.T) {
	began := time.Now()
	cl := redistest.StartCluster(t)
	t.Logf("three-master cluster ready in %s", time.Since(began).Round(time.Millisecond))
	f := newFleetOn(t, demoidp.Options{
		AutoApprove: true, AccessTokenTTL: fleetTokenTTL, IDTokenTTL: fleetTokenTTL,
		RotateRefreshTokens: true, RevokeFamilyOnReuse: true, RefreshReturnsIDToken: true,
	}, "address "+strings.Join(cl.Addrs(), " ")+"\ncluster")
	t.Run("LoginIsSharedAndCookieHoldsOnlyAnID", f.testLoginShared)
	t.Run("LogoutOnOneEndsEverywhere", f.testLogout)
	t.Run("BackChannelLogout", f.testBackChannelLogout)
	t.Run("OneSTSExchangeAcrossInstances", f.testSTS)
	t.Run("OneRefreshAcrossInstances", f.testRefresh)
	// Last: the sub's logout mark refuses alice's logins within the same second.
	t.Run("BackChannelLogoutBySubject", f.testBackChannelLogoutBySub)
	f.checkNodesAlive(t)
	perMaster, err := cl.Keys("edgeauth-fleet-test:*")
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for node, keys := range perMaster {
		t.Logf("master %s holds %d fleet keys", node, len(keys))
		if len(keys) > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("the fleet's keys are on %d of the 3 masters, want them spread over the slots", used)
	}
	t.Logf("fleet cluster test took %s", time.Since(began).Round(time.Millisecond))
}

// checkNodesAlive fails t when a gateway process has exited (a crash).
func (f *fleetWorld) checkNodesAlive(t *testing.T) {
	for _, n := range f.nodes {
		select {
		case <-n.exited:
			t.Errorf("%s exited during the test (a crash?)", n.name)
		default:
		}
	}
}

// A back-channel logout token with only a sub ends every session of that
// subject (two browsers, on different instances) on all instances; another
// subject's session stays.
func (f *fleetWorld) testBackChannelLogoutBySub(t *testing.T) {
	es := f.envs(t)
	a1 := es[0].newCookieClient("alice")
	a1.login("/")
	a2 := es[1].newCookieClient("alice")
	a2.login("/")
	bob := es[2].newCookieClient("bob")
	bob.login("/")
	tok, err := f.idp.MintLogoutToken("", aliceSubject)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(es[0].url("/oauth2/backchannel_logout"), url.Values{"logout_token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout by sub: %d %.300s", resp.StatusCode, body)
	}
	for i, e := range es {
		for j, b := range []*cookieClient{a1, a2} {
			if resp, body := b.at(e).api("/app"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("instance %d, alice's session %d after the logout of her sub: %d, want 401; %.200s", i+1, j+1, resp.StatusCode, body)
			}
		}
		if sub, err := subjectOf(bob.at(e).api("/app")); sub != "2000000000000003" {
			t.Errorf("instance %d: bob after alice's logout by sub: %q, %v; want him untouched", i+1, sub, err)
		}
	}
}

// haUser is one signed-in browser in the failover test.
type haUser struct {
	b       *cookieClient
	subject string
}

// haTally counts the answers during the failover.
type haTally struct {
	mu                     sync.Mutex
	served, unavailable    int
	failures               []string
	lastUnavailable, first time.Time
}

func (h *haTally) fail(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failures) < 20 {
		h.failures = append(h.failures, msg)
	}
}

// TestFleetSentinel: four users signed in through three gateways on a
// Sentinel setup keep sending requests while the master is killed. Every
// answer is the user's own identity or 503 with Retry-After (never another
// user's session, never a hang); Sentinel promotes the replica and the same
// gateway processes serve every user again; then logins, logout and
// back-channel logout work.
func TestFleetSentinel(t *testing.T) {
	began := time.Now()
	sn := redistest.StartSentinel(t)
	t.Logf("master, replica and three sentinels ready in %s", time.Since(began).Round(time.Millisecond))
	// Long-lived tokens: no refresh falls into the failover window.
	f := newFleetOn(t, demoidp.Options{AutoApprove: true},
		"address "+strings.Join(sn.Addrs(), " ")+"\nsentinel "+redistest.SentinelMasterName)
	es := f.envs(t)
	subjects := map[string]string{"root": demoidp.DemoAccountID, "alice": aliceSubject, "bob": "2000000000000003", "ops": "300000000000000001:ops"}
	var users []haUser
	for i, name := range []string{"root", "alice", "bob", "ops"} {
		b := es[i%3].newCookieClient(name)
		b.login("/")
		users = append(users, haUser{b: b, subject: subjects[name]})
	}
	for _, u := range users {
		for i, e := range es {
			if sub, err := subjectOf(u.b.at(e).api("/app")); sub != u.subject {
				t.Fatalf("before the failover, instance %d: %q, %v; want %s", i+1, sub, err, u.subject)
			}
		}
	}
	sn.WaitReplicated(t) // the sessions are on the replica: they must survive

	var tally haTally
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				e := es[n%3]
				t0 := time.Now()
				resp, body, err := fetch(u.b.client, e.url("/app"), http.Header{"Accept": {"application/json"}})
				took := time.Since(t0)
				switch {
				case err != nil:
					tally.fail(fmt.Sprintf("%s on instance %d: %v after %s", u.subject, n%3+1, err, took))
				case took > 3*time.Second:
					tally.fail(fmt.Sprintf("%s on instance %d: answered after %s (a hang)", u.subject, n%3+1, took))
				case resp.StatusCode == http.StatusOK:
					sub, err := subjectOf(resp, body)
					if sub != u.subject {
						tally.fail(fmt.Sprintf("%s on instance %d: the upstream saw subject %q (%v): another user's session", u.subject, n%3+1, sub, err))
						continue
					}
					tally.mu.Lock()
					tally.served++
					tally.mu.Unlock()
				case resp.StatusCode == http.StatusServiceUnavailable:
					if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
						tally.fail(fmt.Sprintf("%s on instance %d: 503 with Retry-After %q", u.subject, n%3+1, resp.Header.Get("Retry-After")))
					}
					if len(u.b.sessionCookies()) == 0 {
						tally.fail(fmt.Sprintf("%s on instance %d: the 503 cleared the session cookie", u.subject, n%3+1))
					}
					tally.mu.Lock()
					tally.unavailable++
					tally.lastUnavailable = time.Now()
					if tally.first.IsZero() {
						tally.first = time.Now()
					}
					tally.mu.Unlock()
				default:
					tally.fail(fmt.Sprintf("%s on instance %d: %d %.200s (want 200 or 503: a replicated session survives)", u.subject, n%3+1, resp.StatusCode, body))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	old := sn.KillMaster(t)
	killed := time.Now()
	promoted := sn.WaitFailover(t, old, 20*time.Second)
	t.Logf("sentinels promoted %s %s after the kill", promoted, time.Since(killed).Round(time.Millisecond))
	waitFor(t, "every instance to serve every user again", 10*time.Second, func() bool {
		for _, u := range users {
			for _, e := range es {
				resp, body, err := fetch(u.b.client, e.url("/app"), http.Header{"Accept": {"application/json"}})
				if err != nil {
					return false
				}
				if sub, _ := subjectOf(resp, body); sub != u.subject {
					return false
				}
			}
		}
		return true
	})
	recovered := time.Now()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, msg := range tally.failures {
		t.Error(msg)
	}
	if tally.unavailable == 0 {
		t.Error("no request was answered 503 while the master was gone: the test did not see the failover window")
	}
	t.Logf("during the failover: %d requests served with the right identity, %d answered 503 (from %s to %s after the kill); every user served again on every instance %s after the kill",
		tally.served, tally.unavailable, tally.first.Sub(killed).Round(time.Millisecond), tally.lastUnavailable.Sub(killed).Round(time.Millisecond), recovered.Sub(killed).Round(time.Millisecond))
	f.checkNodesAlive(t)

	// After the failover, without a restart: a new login is shared, a
	// logout on another instance ends it everywhere, and a back-channel
	// logout by sub ends bob's session everywhere.
	nb := es[2].newCookieClient("alice")
	nb.login("/")
	for i, e := range es {
		if sub, err := subjectOf(nb.at(e).api("/app")); sub != aliceSubject {
			t.Errorf("instance %d, a login made after the failover on instance 3: %q, %v", i+1, sub, err)
		}
	}
	kept := nb.sessionCookies()
	if h := nb.at(es[0]).do(http.MethodPost, es[0].url("/oauth2/logout"), url.Values{}, "Sec-Fetch-Site: same-origin"); h.Status != http.StatusFound {
		t.Fatalf("logout after the failover: %d, want 302", h.Status)
	}
	for i, e := range es {
		nb.setCookies(kept)
		if resp, body := nb.at(e).api("/app"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("instance %d after the logout (old cookie kept): %d, want 401; %.200s", i+1, resp.StatusCode, body)
		}
	}
	tok, err := f.idp.MintLogoutToken("", "2000000000000003")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(es[1].url("/oauth2/backchannel_logout"), url.Values{"logout_token": {tok}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout after the failover: %d", resp.StatusCode)
	}
	for _, u := range users {
		for i, e := range es {
			resp, body := u.b.at(e).api("/app")
			sub, _ := subjectOf(resp, body)
			switch {
			case u.subject == "2000000000000003" && resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("instance %d: bob after his back-channel logout: %d, want 401", i+1, resp.StatusCode)
			case u.subject != "2000000000000003" && sub != u.subject:
				t.Errorf("instance %d: %s after bob's back-channel logout: %q, want untouched", i+1, u.subject, sub)
			}
		}
	}
	t.Logf("fleet sentinel test took %s", time.Since(began).Round(time.Millisecond))
}
