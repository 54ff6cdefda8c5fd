package main

import (
	"math"
	"slices"
	"time"
)

// summary is what the tables and the JSON report for one metric of one
// mux: the median, spread and raw values of the per-round samples.
type summary struct {
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Samples []float64 `json:"samples"`
}

// summarize returns the median, min and max of samples (which it does not
// modify). The median of an even count is the mean of the middle two.
func summarize(samples []float64) summary {
	s := summary{Samples: slices.Clone(samples)}
	if len(samples) == 0 {
		s.Median, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN()
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	n := len(sorted)
	s.Min, s.Max = sorted[0], sorted[n-1]
	if n%2 == 1 {
		s.Median = sorted[n/2]
	} else {
		s.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return s
}

// latencies collects round-trip times of one goroutine; merge them before
// asking for percentiles.
type latencies []time.Duration

// percentile returns the q-quantile (0 < q <= 1) of d by the nearest-rank
// method, sorting d in place. It returns 0 for an empty slice.
func percentile(d latencies, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		slices.Sort(d)
	}
	rank := int(math.Ceil(q*float64(len(d)))) - 1
	rank = max(0, min(rank, len(d)-1))
	return d[rank]
}

// micros converts a duration to microseconds as a float.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mibPerSec is a throughput in MiB/s.
func mibPerSec(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / (1 << 20) / d.Seconds()
}

// perSec is a rate in operations per second.
func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
