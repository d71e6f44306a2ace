package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank percentile of sorted values.
func exactPercentile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func TestBucketRangeContainsValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1 << 20, 1<<20 - 1, math.MaxInt64}
	for range 10000 {
		values = append(values, rng.Uint64N(1<<40))
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, outside [0, %d)", v, i, numBuckets)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo) > float64(lo)/subCount {
			t.Fatalf("bucket %d = [%d, %d] is wider than 1/%d of its value", i, lo, hi, subCount)
		}
	}
}

func TestPercentilesMatchExactWithinPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dists := map[string]func() time.Duration{
		"uniform 0-10ms": func() time.Duration { return time.Duration(rng.Int64N(int64(10 * time.Millisecond))) },
		"log-normal":     func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*1.2+14) + 1) },
		"bimodal": func() time.Duration {
			return []time.Duration{200 * time.Microsecond, 30 * time.Millisecond}[rng.IntN(10)/9]
		},
		"tiny exact": func() time.Duration { return time.Duration(rng.IntN(100)) },
	}
	for name, draw := range dists {
		var h Histogram
		var all []time.Duration
		for range 50000 {
			d := draw()
			h.Record(d)
			all = append(all, d)
		}
		slices.Sort(all)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
			got, want := h.Percentile(q), exactPercentile(all, q)
			if diff := math.Abs(float64(got - want)); diff > float64(want)/subCount+1 {
				t.Errorf("%s: p%g = %s, exact %s (off by %.2f %%)", name, q*100, got, want, 100*diff/float64(want))
			}
		}
		if h.Count() != uint64(len(all)) || h.Max() != all[len(all)-1] {
			t.Errorf("%s: count %d max %s, want %d and %s", name, h.Count(), h.Max(), len(all), all[len(all)-1])
		}
	}
}

func TestMergeEqualsRecordingEverything(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&Histogram{})
	m.Merge(&b)
	if m.counts != all.counts || m.Count() != all.Count() || m.Mean() != all.Mean() || m.Max() != all.Max() || m.min != all.min {
		t.Fatal("merged histogram differs from the one that recorded everything")
	}
	for _, q := range []float64{0.5, 0.99} {
		if m.Percentile(q) != all.Percentile(q) {
			t.Errorf("p%g: merged %s, direct %s", q*100, m.Percentile(q), all.Percentile(q))
		}
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Percentile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram reports a value")
	}
	h.Record(-5)
	if h.Percentile(0.99) != 0 || h.Count() != 1 {
		t.Fatalf("negative latency: p99 %s count %d, want 0 and 1", h.Percentile(0.99), h.Count())
	}
}
