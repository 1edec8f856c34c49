package main

import (
	"math"
	"slices"
	"time"
)

// Results maps a metric key, such as "rpc_call.p50", to its value: µs for
// latencies, per second for rates, ms for wall times and MB for memory.
type Results map[string]float64

// latencies runs f n times and returns each run's duration, sorted, as
// anchorbench.erl's lat/2 does. It stops at f's first error.
func latencies(n int, f func() error) ([]time.Duration, error) {
	ds := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// pct is anchorbench.erl's pct/2: the element at max(1, round(p·n)),
// counting from 1, of the sorted durations.
func pct(sorted []time.Duration, p float64) float64 {
	i := max(1, int(math.Round(p*float64(len(sorted)))))
	return us(sorted[i-1])
}

func mean(sorted []time.Duration) float64 {
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	return us(sum) / float64(len(sorted))
}

// report stores the mean, p50 and p99 of sorted under name, as
// anchorbench.erl's report/2 prints them.
func (r Results) report(name string, sorted []time.Duration) {
	r[name+".mean"] = mean(sorted)
	r[name+".p50"] = pct(sorted, 0.5)
	r[name+".p99"] = pct(sorted, 0.99)
}

// median of the values; NaN when there are none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
