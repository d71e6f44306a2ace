package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A Source fills in the credential of each request of one run. Next sets
// the headers of the seq-th request of worker w on hdr (the same map every
// time for a worker) and returns the status the server must answer with.
// During warm-up, Next is called with warm set and must not consume
// anything a measurement needs (such as fresh tokens).
type Source interface {
	Next(hdr http.Header, w, seq int, warm bool) (want int)
}

// Result is what one side of a run measured.
type Result struct {
	Requests   uint64        // completed during the measurement
	Unexpected uint64        // of those, answered with another status than wanted
	Failed     uint64        // transport errors during the measurement
	Elapsed    time.Duration // measured time (summed over slices)
	Hist       Histogram     // latency of the completed requests
	EndedEarly bool          // Exhausted ended the measurement
	// Completed counts every answered request, warm-up included, and CPU is
	// the CPU time the server process used meanwhile (set by the caller;
	// 0 when unknown): together they give the server's CPU per request,
	// which other load on the machine disturbs far less than throughput.
	Completed uint64
	CPU       time.Duration
	// StoreCPU is the CPU time the session store's server (redis-server,
	// scenarios 6 and 7) used meanwhile; 0 when there is none or it is unknown.
	StoreCPU time.Duration
	// StoreCommands is how many commands that server ran meanwhile (INFO
	// commandstats after minus before, the INFO calls themselves left out);
	// -1 when unknown.
	StoreCommands int64
	// StoreIdle is what that server would have used in the same wall time
	// doing nothing (its idle rate, measured before the rounds); 0 when
	// unknown.
	StoreIdle time.Duration
}

// CPUPerRequest returns the server's CPU time per answered request.
func (r *Result) CPUPerRequest() time.Duration {
	if r.Completed == 0 || r.CPU <= 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Completed)
}

// RPS returns completed requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// state is what a side's workers do now. The controller replaces it (and
// closes the old one's changed channel) at every switch; a request counts
// only when the state was a measuring one both when it was sent and when
// its answer was read.
type state struct {
	active, measure, stop bool
	changed               chan struct{}
}

// side is one target's connections and state.
type side struct {
	url       string
	src       Source
	exhausted func() bool // see PairOptions.Exhausted
	st        atomic.Pointer[state]
	workers   []*worker
	elapsed   time.Duration
}

// set switches the side to a new state.
func (s *side) set(active, measure, stop bool) {
	old := s.st.Swap(&state{active: active, measure: measure, stop: stop, changed: make(chan struct{})})
	if old != nil {
		close(old.changed)
	}
}

// result merges the workers' counts.
func (s *side) result() *Result {
	res := &Result{Elapsed: s.elapsed}
	for _, w := range s.workers {
		res.Requests += w.requests
		res.Unexpected += w.unexpected
		res.Failed += w.failed
		res.Completed += w.completed
		res.Hist.Merge(&w.hist)
	}
	return res
}

// worker is one connection's closed loop.
type worker struct {
	id         int
	tr         *http.Transport
	req        *http.Request
	hist       Histogram
	requests   uint64
	unexpected uint64
	failed     uint64
	completed  uint64
}

// newTransport returns a keep-alive HTTP/1.1 transport for one connection.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
}

// newSide prepares conns idle workers for url.
func newSide(ctx context.Context, url string, src Source, conns int) (*side, error) {
	return newSpreadSide(ctx, []string{url}, src, conns)
}

// newSpreadSide prepares conns idle workers, worker i sending to
// urls[i mod len(urls)] (scenario 7: one generator, connections spread
// over the fleet's instances).
func newSpreadSide(ctx context.Context, urls []string, src Source, conns int) (*side, error) {
	s := &side{url: urls[0], src: src}
	s.set(false, false, false)
	for i := range conns {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, urls[i%len(urls)], nil)
		if err != nil {
			return nil, err
		}
		s.workers = append(s.workers, &worker{id: i, tr: newTransport(), req: req})
	}
	return s, nil
}

// start runs the side's workers; they wait while the side is inactive.
func (s *side) start(ctx context.Context, wg *sync.WaitGroup) {
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.tr.CloseIdleConnections()
			w.loop(ctx, s)
		}()
	}
}

// loop sends requests back to back while the side is active.
func (w *worker) loop(ctx context.Context, s *side) {
	for seq := 0; ; {
		st := s.st.Load()
		switch {
		case st.stop:
			return
		case !st.active:
			select {
			case <-st.changed:
			case <-ctx.Done():
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if st.measure && s.exhausted != nil && s.exhausted() {
			// Out of fresh tokens: send nothing more until the controller,
			// which polls the same condition, ends the run.
			select {
			case <-st.changed:
			case <-ctx.Done():
				return
			}
			continue
		}
		want := s.src.Next(w.req.Header, w.id, seq, !st.measure)
		seq++
		t0 := time.Now()
		status, err := w.do()
		d := time.Since(t0)
		counted := st.measure && s.st.Load() == st
		if err == nil {
			w.completed++
		}
		if err != nil {
			if counted {
				w.failed++
			}
			sleep(ctx, 10*time.Millisecond) // e.g. connection refused: don't spin
			continue
		}
		if counted {
			w.requests++
			if status != want {
				w.unexpected++
			}
			w.hist.Record(d)
		}
	}
}

// do sends the worker's request and reads the whole answer.
func (w *worker) do() (int, error) {
	resp, err := w.tr.RoundTrip(w.req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// PairOptions shape a paired run.
type PairOptions struct {
	Conns    int           // connections per side
	Warmup   time.Duration // per side, before measuring, not recorded
	Duration time.Duration // measured time per side
	Slice    time.Duration // the sides take turns for this long
	// Exhausted, when set, ends the run early once it returns true (a
	// source that ran out of fresh tokens): workers check it before every
	// measured request, so at most one request per connection overshoots.
	Exhausted func() bool
}

// RunPair measures two targets taking turns: after a warm-up of each, A
// runs for one slice while B's connections wait, then B for one slice, and
// so on until each side has been measured for opts.Duration. Both sides
// keep their connections throughout. Whatever else the machine does during
// the run weighs on both sides alike, which back-to-back runs of seconds
// each cannot promise on a shared machine.
func RunPair(ctx context.Context, opts PairOptions, a, b *side) (*Result, *Result, error) {
	a.exhausted, b.exhausted = opts.Exhausted, opts.Exhausted
	var wg sync.WaitGroup
	a.start(ctx, &wg)
	b.start(ctx, &wg)
	for _, s := range []*side{a, b} {
		s.set(true, false, false)
		sleep(ctx, opts.Warmup)
		s.set(false, false, false)
	}
	ended := false
	for remaining := opts.Duration; remaining > 0 && !ended && ctx.Err() == nil; remaining -= opts.Slice {
		d := min(opts.Slice, remaining)
		for _, s := range []*side{a, b} {
			t0 := time.Now()
			s.set(true, true, false)
			ended = waitSlice(ctx, d, opts.Exhausted)
			s.set(false, false, false)
			s.elapsed += time.Since(t0)
			if ended {
				break
			}
		}
	}
	a.set(false, false, true)
	b.set(false, false, true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ra, rb := a.result(), b.result()
	ra.EndedEarly, rb.EndedEarly = ended, ended
	return ra, rb, nil
}

// waitSlice waits d, or less when exhausted (if set) turns true; it
// reports whether exhausted did.
func waitSlice(ctx context.Context, d time.Duration, exhausted func() bool) bool {
	if exhausted == nil {
		sleep(ctx, d)
		return false
	}
	deadline := time.Now().Add(d)
	for ctx.Err() == nil {
		if exhausted() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		sleep(ctx, min(2*time.Millisecond, left))
	}
	return false
}

// RunOptions bound a run of one target alone.
type RunOptions struct {
	URL      string
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	// Exhausted, when set, ends the measurement early once it returns true
	// (a source that ran out of fresh tokens).
	Exhausted func() bool
}

// Run drives one target alone: warm-up, then measurement for
// opts.Duration or until opts.Exhausted.
func Run(ctx context.Context, opts RunOptions, src Source) (*Result, error) {
	s, err := newSide(ctx, opts.URL, src, opts.Conns)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	s.start(ctx, &wg)
	s.set(true, false, false)
	sleep(ctx, opts.Warmup)
	start := time.Now()
	s.set(true, true, false)
	deadline := start.Add(opts.Duration)
	ended := false
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(deadline) {
			break
		}
		if opts.Exhausted != nil && opts.Exhausted() {
			ended = true
			break
		}
		sleep(ctx, min(10*time.Millisecond, deadline.Sub(now)))
	}
	s.set(false, false, true)
	s.elapsed = time.Since(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := s.result()
	res.EndedEarly = ended
	return res, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
