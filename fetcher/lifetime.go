package fetcher

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lifetime is how long the response may be cached per Cache-Control
// (max-age; s-maxage is for shared caches and ignored; no-store or
// no-cache mean 0) or else Expires (against Date when given), less any
// Age, clamped to [min, max]; no header => min.
func (r *Response) Lifetime(min, max time.Duration) time.Duration {
	d, ok := r.freshness()
	if !ok {
		return min
	}
	if age, err := strconv.ParseInt(strings.TrimSpace(r.Header.Get("Age")), 10, 64); err == nil && age > 0 {
		d -= time.Duration(min64(age, maxSeconds)) * time.Second
	}
	return clamp(d, min, max)
}

// maxSeconds keeps a huge max-age or Age from overflowing a Duration.
const maxSeconds = int64(100 * 365 * 24 * 3600)

// freshness reads the lifetime the headers give; ok false means none.
func (r *Response) freshness() (time.Duration, bool) {
	if r.Header == nil {
		return 0, false
	}
	if cc := r.Header.Values("Cache-Control"); len(cc) > 0 {
		maxAge, found := time.Duration(0), false
		for _, line := range cc {
			for directive := range strings.SplitSeq(line, ",") {
				name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
				switch strings.ToLower(strings.TrimSpace(name)) {
				case "no-store", "no-cache":
					return 0, true
				case "max-age":
					n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
					if err != nil || n < 0 {
						n = 0 // RFC 9111 §4.2.1: an invalid max-age is stale
					}
					maxAge, found = time.Duration(min64(n, maxSeconds))*time.Second, true
				}
			}
		}
		if found {
			return maxAge, true
		}
	}
	if exp := r.Header.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0, true // RFC 9111 §5.3: an invalid Expires ("0") is in the past
		}
		base := r.FetchedAt
		if date, err := http.ParseTime(r.Header.Get("Date")); err == nil {
			base = date // the server's clock against the server's clock
		}
		return t.Sub(base), true
	}
	return 0, false
}

func clamp(d, lo, hi time.Duration) time.Duration {
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
