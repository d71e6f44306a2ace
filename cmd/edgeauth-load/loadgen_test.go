package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// statusByToken answers 200 for "Bearer good", 401 otherwise, and counts
// the requests and the credentials it saw.
type statusByToken struct {
	requests, good, warmTok atomic.Int64
}

func (s *statusByToken) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		s.good.Add(1)
	case "Bearer warm":
		s.warmTok.Add(1)
	default:
		w.WriteHeader(http.StatusUnauthorized)
	}
}

func TestRunCountsRequestsAndUnexpectedStatuses(t *testing.T) {
	srv := &statusByToken{}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// Every tenth request carries a bad token; the source says so, except
	// that it claims 200 for them, so each of those must count as unexpected.
	mix := mixSource{valid: []string{"Bearer good"}, invalid: []string{"Bearer bad"}}
	res, err := Run(context.Background(), RunOptions{URL: ts.URL, Conns: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}, mix)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 50 || res.Failed != 0 {
		t.Fatalf("%d requests, %d failures: the generator did not run", res.Requests, res.Failed)
	}
	if res.Hist.Count() != res.Requests {
		t.Fatalf("histogram holds %d values for %d requests", res.Hist.Count(), res.Requests)
	}
	frac := float64(res.Unexpected) / float64(res.Requests)
	if frac < 0.07 || frac > 0.13 {
		t.Fatalf("%.3f of the answers unexpected, want about 0.1 (%d of %d)", frac, res.Unexpected, res.Requests)
	}
	if int64(res.Requests) > srv.requests.Load() {
		t.Fatalf("measured %d requests but the server saw only %d", res.Requests, srv.requests.Load())
	}
	if res.Elapsed < 300*time.Millisecond || res.RPS() <= 0 {
		t.Fatalf("elapsed %s, rps %.0f", res.Elapsed, res.RPS())
	}

	checked := mixSource{valid: mix.valid, invalid: mix.invalid, checked: true}
	res, err = Run(context.Background(), RunOptions{URL: ts.URL, Conns: 2, Duration: 200 * time.Millisecond}, checked)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unexpected != 0 {
		t.Fatalf("%d unexpected answers with the right expectations", res.Unexpected)
	}
}

func TestRunFreshTokensEndEarlyAndSpareWarmup(t *testing.T) {
	srv := &statusByToken{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	vals := make([]string, 200)
	for i := range vals {
		vals[i] = "Bearer good"
	}
	pool := NewTokenPool(vals)
	res, err := Run(context.Background(), RunOptions{
		URL: ts.URL, Conns: 4, Warmup: 100 * time.Millisecond, Duration: 10 * time.Second,
		Exhausted: func() bool { return pool.Remaining() == 0 },
	}, freshSource{pool: pool, warm: "Bearer warm"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.EndedEarly || res.Elapsed > 5*time.Second {
		t.Fatalf("a run bounded by 200 tokens lasted %s (ended early: %v)", res.Elapsed, res.EndedEarly)
	}
	if srv.warmTok.Load() == 0 {
		t.Fatal("warm-up did not use the warm token")
	}
	taken, _ := pool.Taken()
	if taken < 200 || srv.good.Load() != taken {
		t.Fatalf("pool handed out %d tokens, server saw %d fresh ones; warm-up must take none", taken, srv.good.Load())
	}
	if res.Requests > uint64(taken) {
		t.Fatalf("%d measured requests but only %d tokens taken", res.Requests, taken)
	}
}

func TestRunCountsTransportFailures(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens any more
	res, err := Run(context.Background(), RunOptions{URL: url, Conns: 2, Duration: 100 * time.Millisecond}, fixedSource{name: "Authorization", value: "x", want: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed == 0 || res.Requests != 0 {
		t.Fatalf("against a closed port: %d failures, %d requests", res.Failed, res.Requests)
	}
}

func TestCycleSourceDoesNotTake(t *testing.T) {
	pool := NewTokenPool([]string{"a", "b", "c"})
	src := cycleSource{pool: pool, conns: 2}
	hdr := http.Header{}
	var got []string
	for seq := range 3 {
		for w := range 2 {
			if src.Next(hdr, w, seq, false) != http.StatusOK {
				t.Fatal("bare side must expect 200")
			}
			got = append(got, hdr.Get("Authorization"))
		}
	}
	if want := []string{"a", "b", "c", "a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("cycle order %v, want %v", got, want)
	}
	if taken, _ := pool.Taken(); taken != 0 {
		t.Fatalf("the bare side took %d tokens", taken)
	}
}

func TestRunPairTakesTurns(t *testing.T) {
	// Each server records when it is busy; the two must never both be in
	// the middle of a slice at once, and each must get its share.
	var aReq, bReq, overlap atomic.Int64
	var busyA, busyB atomic.Int32
	handler := func(me, other *atomic.Int32, n *atomic.Int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			me.Add(1)
			n.Add(1)
			if other.Load() > 0 {
				overlap.Add(1)
			}
			time.Sleep(200 * time.Microsecond)
			me.Add(-1)
		}
	}
	ta := httptest.NewServer(handler(&busyA, &busyB, &aReq))
	defer ta.Close()
	tb := httptest.NewServer(handler(&busyB, &busyA, &bReq))
	defer tb.Close()
	ok := fixedSource{name: "Authorization", value: "x", want: http.StatusOK}
	a, err := newSide(context.Background(), ta.URL, ok, 3)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newSide(context.Background(), tb.URL, ok, 3)
	if err != nil {
		t.Fatal(err)
	}
	opts := PairOptions{Conns: 3, Warmup: 20 * time.Millisecond, Duration: 300 * time.Millisecond, Slice: 50 * time.Millisecond}
	ra, rb, err := RunPair(context.Background(), opts, a, b)
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Result{"A": ra, "B": rb} {
		if r.Elapsed < 300*time.Millisecond || r.Elapsed > 600*time.Millisecond {
			t.Errorf("%s measured for %s, want about 300ms", name, r.Elapsed)
		}
		if r.Requests < 20 || r.Unexpected != 0 || r.Failed != 0 {
			t.Errorf("%s: %d requests, %d unexpected, %d failed", name, r.Requests, r.Unexpected, r.Failed)
		}
	}
	// Requests still in flight at a switch may overlap the other side's
	// first ones; anything beyond a few per switch means both ran at once.
	if n, total := overlap.Load(), aReq.Load()+bReq.Load(); n > total/10 {
		t.Errorf("%d of %d requests ran while the other side was busy", n, total)
	}
}

func TestRunPairEndsWhenExhausted(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(upstreamHandler))
	defer ts.Close()
	vals := make([]string, 300)
	for i := range vals {
		vals[i] = fmt.Sprint("Bearer t", i)
	}
	pool := NewTokenPool(vals)
	a, err := newSide(context.Background(), ts.URL, cycleSource{pool: pool, conns: 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newSide(context.Background(), ts.URL, freshSource{pool: pool, warm: "Bearer warm"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	opts := PairOptions{Conns: 2, Duration: 20 * time.Second, Slice: 50 * time.Millisecond,
		Exhausted: func() bool { taken, _ := pool.Taken(); return taken >= 250 }}
	ra, rb, err := RunPair(context.Background(), opts, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !ra.EndedEarly || !rb.EndedEarly || rb.Elapsed > 10*time.Second {
		t.Fatalf("not ended by the token budget: %v %v, %s", ra.EndedEarly, rb.EndedEarly, rb.Elapsed)
	}
	if taken, reused := pool.Taken(); taken < 250 || reused != 0 {
		t.Fatalf("taken %d reused %d: want the budget spent and nothing reused", taken, reused)
	}
}
