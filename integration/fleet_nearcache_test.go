package integration

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The near-cache part of TestFleet (issue 11): each gateway answers a
// session from memory, and a revocation on one gateway reaches the other
// two within 1 s, also when the invalidation link is cut.

// revocationBound is the fleet's contract: a revoked session is refused by
// every instance within 1 s of the revocation.
const revocationBound = time.Second

// revocationKind is how a trial ends the session.
type revocationKind int

const (
	byLogout revocationKind = iota
	byBackChannel
)

func (k revocationKind) String() string {
	if k == byBackChannel {
		return "back-channel logout"
	}
	return "logout"
}

// redisAdmin is a plain client on the fleet's Redis, for INFO and CLIENT
// KILL (not through the gateways).
func (f *fleetWorld) redisAdmin(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: f.redis.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// redisCalls is the number of calls of each command since Redis started
// (INFO commandstats).
func redisCalls(t *testing.T, rdb *redis.Client) map[string]int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// cookieHeader is a Cookie header with cs.
func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}

// apiStatus sends an API request with exactly this Cookie header (no jar).
func (f *fleetWorld) apiStatus(e *env, cookie string) (int, error) {
	resp, _, err := fetch(f.client, e.url("/app"), http.Header{"Accept": {"application/json"}, "Cookie": {cookie}})
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// 7. Sessions are answered from each gateway's memory: after one request
// per gateway, many more send no GET to Redis.
func (f *fleetWorld) testServedFromMemory(t *testing.T) {
	es := f.envs(t)
	b := es[0].newCookieClient("alice")
	b.login("/")
	cookie := cookieHeader(b.sessionCookies())
	rdb := f.redisAdmin(t)
	// The first request of each gateway reads Redis and fills its cache.
	for i, e := range es {
		if st, err := f.apiStatus(e, cookie); st != http.StatusOK {
			t.Fatalf("instance %d: %d, %v", i+1, st, err)
		}
	}
	const n = 90
	before := redisCalls(t, rdb)
	for i := range n {
		if st, err := f.apiStatus(es[i%3], cookie); st != http.StatusOK {
			t.Fatalf("request %d on instance %d: %d, %v", i, i%3+1, st, err)
		}
	}
	after := redisCalls(t, rdb)
	if d := after["get"] - before["get"]; d != 0 {
		t.Errorf("%d requests with a session each gateway had read sent %d GETs to Redis, want 0 (near-cache)", n, d)
	}
	var total int64
	for cmd, c := range after {
		if cmd != "info" {
			total += c - before[cmd]
		}
	}
	t.Logf("%d requests over three gateways: %d Redis commands in all (heartbeats of the invalidation links; no GET)", n, total)

	// What one session costs in Redis with the demo provider's tokens
	// (RS256 ID and access tokens, a refresh token): the README's sizing.
	ctx := context.Background()
	var sessBytes, idxBytes, sessions, idx int64
	for _, pattern := range []string{"edgeauth-fleet-test:session:*", "edgeauth-fleet-test:sid:*", "edgeauth-fleet-test:sub:*"} {
		keys, err := rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if v, _ := rdb.Get(ctx, k).Result(); strings.HasPrefix(pattern, "edgeauth-fleet-test:session:") && (v == "" || v == "!ended") {
				continue
			}
			n, err := rdb.MemoryUsage(ctx, k).Result()
			if err != nil {
				t.Fatalf("MEMORY USAGE: %v", err)
			}
			if strings.Contains(pattern, ":session:") {
				sessBytes, sessions = sessBytes+n, sessions+1
			} else {
				idxBytes, idx = idxBytes+n, idx+1
			}
		}
	}
	if sessions > 0 && idx > 0 {
		t.Logf("Redis MEMORY USAGE: %d bytes per stored session value (%d sessions), %d bytes per index set (%d sets: one sid and one sub set per login)",
			sessBytes/sessions, sessions, idxBytes/idx, idx)
	}
}

// 8. Revocation within 1 s on every other gateway, measured over many
// trials: logout and back-channel logout, each on a different gateway in
// turn, and again with the invalidation links cut (CLIENT KILL TYPE
// pubsub) just before the revocation, so its message is lost.
func (f *fleetWorld) testRevocationWithinBound(t *testing.T) {
	es := f.envs(t)
	rdb := f.redisAdmin(t)
	type series struct {
		name   string
		kind   revocationKind
		cut    bool
		trials int
	}
	for _, s := range []series{
		{"logout", byLogout, false, 20},
		{"back-channel logout", byBackChannel, false, 20},
		{"logout, link cut", byLogout, true, 5},
		{"back-channel logout, link cut", byBackChannel, true, 5},
	} {
		var delays []time.Duration
		for i := range s.trials {
			delays = append(delays, f.revocationTrial(t, es, rdb, i, s.kind, s.cut)...)
		}
		slices.Sort(delays)
		t.Logf("%s: %d trials, %d gateway checks: median %s, worst %s (bound %s)", s.name, s.trials, len(delays),
			delays[len(delays)/2].Round(100*time.Microsecond), delays[len(delays)-1].Round(100*time.Microsecond), revocationBound)
	}
}

// revocationTrial logs in on one gateway, uses the session on all three
// (so each holds it in memory), ends it on the next gateway and returns,
// for each of the two others, how long after the revocation began it
// refused the session.
func (f *fleetWorld) revocationTrial(t *testing.T, es []*env, rdb *redis.Client, i int, kind revocationKind, cut bool) []time.Duration {
	t.Helper()
	b := es[i%3].newCookieClient("alice")
	b.login("/")
	cookie := cookieHeader(b.sessionCookies())
	for round := range 2 {
		for j, e := range es {
			if st, err := f.apiStatus(e, cookie); st != http.StatusOK {
				t.Fatalf("trial %d, request %d on instance %d before the %s: %d, %v", i, round, j+1, kind, st, err)
			}
		}
	}
	var sid string
	if kind == byBackChannel {
		_, info := b.userinfo()
		claims, _ := info["claims"].(map[string]any)
		if sid, _ = claims["sid"].(string); sid == "" {
			t.Fatalf("trial %d: the session has no sid", i)
		}
	}
	revoker := (i + 1) % 3
	if cut {
		// The links cut in the previous trial must be back first.
		waitFor(t, "the three gateways to resubscribe", 5*time.Second, func() bool {
			list, err := rdb.Do(context.Background(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
			return err == nil && strings.Count(list, "sub=2 ") >= 3
		})
		n, err := rdb.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Int64()
		if err != nil || n < 3 {
			list, _ := rdb.ClientList(context.Background()).Result()
			t.Fatalf("CLIENT KILL TYPE pubsub: %d connections, %v; want the three gateways' links; CLIENT LIST:\n%s", n, err, list)
		}
	}
	began := time.Now()
	switch kind {
	case byLogout:
		h := b.at(es[revoker]).do(http.MethodPost, es[revoker].url("/oauth2/logout"), url.Values{}, "Sec-Fetch-Site: same-origin")
		if h.Status != http.StatusFound {
			t.Fatalf("trial %d: logout on instance %d: %d, want 302", i, revoker+1, h.Status)
		}
	case byBackChannel:
		tok, err := f.idp.MintLogoutToken(sid, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(es[revoker].url("/oauth2/backchannel_logout"), url.Values{"logout_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("trial %d: back-channel logout on instance %d: %d, want 200", i, revoker+1, resp.StatusCode)
		}
	}
	var delays []time.Duration
	for j, e := range es {
		if j == revoker {
			continue
		}
		for {
			st, err := f.apiStatus(e, cookie)
			if st == http.StatusUnauthorized {
				delays = append(delays, time.Since(began))
				break
			}
			if err != nil || (st != http.StatusOK && st != http.StatusServiceUnavailable) {
				t.Fatalf("trial %d, instance %d after the %s: %d, %v", i, j+1, kind, st, err)
			}
			if d := time.Since(began); d > revocationBound {
				t.Fatalf("trial %d (%s on instance %d, link cut %v): instance %d still answers %d %s after the revocation began; the bound is %s",
					i, kind, revoker+1, cut, j+1, st, d.Round(time.Millisecond), revocationBound)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return delays
}

// waitNoRedisReads waits until n requests with cookie spread over the
// gateways send no GET to Redis (every gateway's link is current again and
// the session is in its memory); it fails after limit.
func (f *fleetWorld) waitNoRedisReads(t *testing.T, es []*env, cookie string, limit time.Duration) time.Duration {
	t.Helper()
	rdb := f.redisAdmin(t)
	began := time.Now()
	for {
		before := redisCalls(t, rdb)
		for i := range 30 {
			if st, err := f.apiStatus(es[i%3], cookie); st != http.StatusOK {
				t.Fatalf("request on instance %d: %d, %v", i%3+1, st, err)
			}
		}
		if redisCalls(t, rdb)["get"] == before["get"] {
			return time.Since(began)
		}
		if time.Since(began) > limit {
			t.Fatalf("the gateways still read every session from Redis %s after recovery (near-cache not back)", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRefused waits until every gateway refuses cookie (401), failing the
// test after revocationBound.
func (f *fleetWorld) waitRefused(t *testing.T, es []*env, cookie string) {
	t.Helper()
	began := time.Now()
	for i, e := range es {
		for {
			st, err := f.apiStatus(e, cookie)
			if st == http.StatusUnauthorized {
				break
			}
			if err != nil || st != http.StatusOK || time.Since(began) > revocationBound {
				t.Fatalf("instance %d, %s after the revocation: %d, %v; want 401 within %s", i+1, time.Since(began), st, err, revocationBound)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
