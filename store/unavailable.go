package store

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable marks a store error that is an outage rather than a bug or
// a refused request: the store could not be reached, did not answer in
// time, or cannot take writes now (failover, full disk). Both backends wrap
// such errors so errors.Is(err, ErrUnavailable) holds; every renderer
// answers them with 503 and RetryAfter instead of 500.
var ErrUnavailable = errors.New("store unavailable")

// RetryAfter is the Retry-After a 503 for an outage carries: long enough
// not to hammer a store that is coming back, short enough for a failover.
const RetryAfter = 2 * time.Second

// Unavailable wraps err as an outage, keeping err for errors.Is/As and logs.
// A nil err stays nil.
func Unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return &unavailableError{err}
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return "store unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// IsUnavailable reports whether err is an outage. A context deadline counts:
// a store that did not answer within the request's time is down for it. A
// cancelled context does not: the caller went away.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
