package bench

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets (HDR style): each power
// of two is split into 2^subBits buckets, so any recorded value is known to
// within about 3% at a fixed 16 KiB, however long the run.
type histogram struct {
	counts [64 << subBits]uint64
	total  uint64
	max    uint64
}

const (
	subBits  = 5
	subCount = 1 << subBits
)

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1 // top bit, >= subBits
	shift := e - subBits
	return (shift+1)<<subBits + int((v>>shift)&(subCount-1))
}

// bucketMid is the middle of bucket i, the value reported for it.
func bucketMid(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i>>subBits - 1
	lo := uint64(subCount+i&(subCount-1)) << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)]++
	h.total++
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the samples lie.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max))
		}
	}
	return time.Duration(h.max)
}
