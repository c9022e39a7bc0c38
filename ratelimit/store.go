package ratelimit

import (
	"context"
	"time"
)

// Store counts failures in fixed windows. The counters live in the shared
// store so a limit holds across server nodes.
type Store interface {
	// Reserve takes one slot under key in one atomic step: when the count
	// in the open window is at max or over, it refuses (ok false) and
	// changes nothing; otherwise it adds one, opening a window of the given
	// length when none is open. It returns the count after the step and
	// the time left in the window (0, 0 when no window is open). Because
	// the check and the increment are one step, concurrent callers can
	// never take more than max slots between them.
	Reserve(ctx context.Context, key string, max int64, window time.Duration) (ok bool, count int64, left time.Duration, err error)
	// Release gives one slot back under key (never below zero), leaving
	// the window as it is.
	Release(ctx context.Context, key string) error
	// AddFailure counts one failure under key, opening a window of the given
	// length when none is open, in one atomic step; it returns the new count
	// and the time left in the window.
	AddFailure(ctx context.Context, key string, window time.Duration) (count int64, left time.Duration, err error)
	// ResetFailures forgets the count under key.
	ResetFailures(ctx context.Context, key string) error
}
