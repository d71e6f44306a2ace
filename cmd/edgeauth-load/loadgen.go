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

// RunOptions bound one closed-loop run.
type RunOptions struct {
	// URL is requested with GET by every connection.
	URL string
	// Conns is the number of connections, each sending back to back.
	Conns int
	// Warmup runs before measuring; nothing is recorded during it.
	Warmup time.Duration
	// Duration is how long to measure.
	Duration time.Duration
	// Exhausted, when set, ends the measurement early once it returns true
	// (a source that ran out of fresh tokens).
	Exhausted func() bool
}

// Result is what one run measured.
type Result struct {
	Requests   uint64        // completed during the measurement
	Unexpected uint64        // of those, answered with another status than wanted
	Failed     uint64        // transport errors during the measurement
	Elapsed    time.Duration // length of the measurement
	Hist       Histogram     // latency of the completed requests
	EndedEarly bool          // Exhausted ended the measurement
}

// RPS returns completed requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// phases of a run, read by every worker.
const (
	phaseWarm int32 = iota
	phaseMeasure
	phaseStop
)

// worker is one connection's closed loop.
type worker struct {
	id         int
	tr         *http.Transport
	req        *http.Request
	hist       Histogram
	requests   uint64
	unexpected uint64
	failed     uint64
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

// Run drives opts.URL from opts.Conns connections, each sending the next
// request as soon as the previous answer is read, first for opts.Warmup and
// then for opts.Duration (or until opts.Exhausted), and returns what the
// measurement saw. A request counts when it was sent during the measurement
// and answered before it ended.
func Run(ctx context.Context, opts RunOptions, src Source) (*Result, error) {
	workers := make([]*worker, opts.Conns)
	for i := range workers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.URL, nil)
		if err != nil {
			return nil, err
		}
		workers[i] = &worker{id: i, tr: newTransport(), req: req}
	}
	defer func() {
		for _, w := range workers {
			w.tr.CloseIdleConnections()
		}
	}()

	var phase atomic.Int32
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, &phase, src)
		}()
	}

	sleep(ctx, opts.Warmup)
	start := time.Now()
	phase.Store(phaseMeasure)
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
	phase.Store(phaseStop)
	elapsed := time.Since(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &Result{Elapsed: elapsed, EndedEarly: ended}
	for _, w := range workers {
		res.Requests += w.requests
		res.Unexpected += w.unexpected
		res.Failed += w.failed
		res.Hist.Merge(&w.hist)
	}
	return res, nil
}

// loop sends requests until the run stops.
func (w *worker) loop(ctx context.Context, phase *atomic.Int32, src Source) {
	for seq := 0; ctx.Err() == nil; seq++ {
		p := phase.Load()
		if p == phaseStop {
			return
		}
		want := src.Next(w.req.Header, w.id, seq, p == phaseWarm)
		t0 := time.Now()
		status, err := w.do()
		d := time.Since(t0)
		if p != phaseMeasure || phase.Load() != phaseMeasure {
			if err != nil {
				sleep(ctx, 10*time.Millisecond) // e.g. connection refused: don't spin
			}
			continue
		}
		if err != nil {
			w.failed++
			sleep(ctx, 10*time.Millisecond)
			continue
		}
		w.requests++
		if status != want {
			w.unexpected++
		}
		w.hist.Record(d)
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
