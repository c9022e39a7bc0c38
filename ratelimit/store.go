package ratelimit

import (
	"context"
	"time"
)

// Store counts failures in fixed windows. The counters live in the shared
// store so a limit holds across server nodes.
type Store interface {
	// Failures returns the count under key in its current window and the time
	// left in that window (0, 0 when no window is open).
	Failures(ctx context.Context, key string) (count int64, left time.Duration, err error)
	// AddFailure counts one failure under key, opening a window of the given
	// length when none is open, in one atomic step; it returns the new count
	// and the time left in the window.
	AddFailure(ctx context.Context, key string, window time.Duration) (count int64, left time.Duration, err error)
	// ResetFailures forgets the count under key.
	ResetFailures(ctx context.Context, key string) error
}
