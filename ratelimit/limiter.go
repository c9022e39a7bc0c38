// Package ratelimit counts failures (wrong passwords, wrong client secrets)
// per key in fixed windows kept in the shared store, so a lockout holds on
// every server node.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Policy allows Max failures per Window; Max <= 0 turns the limit off.
type Policy struct {
	Max    int64
	Window time.Duration
}

// LimitedError says a key is over its limit and when to try again.
type LimitedError struct {
	RetryAfter time.Duration
	// Limit names the counter that refused (Counter.Name), for logs.
	Limit string
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many failed attempts; retry after %s", e.RetryAfter.Round(time.Second))
}

// RetryAfterSeconds is the Retry-After header value (at least 1).
func (e *LimitedError) RetryAfterSeconds() int64 {
	s := int64((e.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Limiter applies policies to keys.
type Limiter struct {
	store Store
}

// New returns a Limiter over store.
func New(store Store) *Limiter { return &Limiter{store: store} }

// Check returns a *LimitedError when key has used up its failures.
func (l *Limiter) Check(ctx context.Context, key string, p Policy) error {
	if p.Max <= 0 {
		return nil
	}
	n, left, err := l.store.Failures(ctx, key)
	if err != nil {
		return err
	}
	if n >= p.Max {
		return &LimitedError{RetryAfter: left}
	}
	return nil
}

// Fail counts one failure under key and returns a *LimitedError once the
// count passes the policy's maximum.
func (l *Limiter) Fail(ctx context.Context, key string, p Policy) error {
	if p.Max <= 0 {
		return nil
	}
	n, left, err := l.store.AddFailure(ctx, key, p.Window)
	if err != nil {
		return err
	}
	if n > p.Max {
		return &LimitedError{RetryAfter: left}
	}
	return nil
}

// Reset forgets key's failures (after a success).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	return l.store.ResetFailures(ctx, key)
}

// Counter is one failure counter an attempt is held to.
type Counter struct {
	Name   string // which limit, for logs
	Key    string
	Policy Policy
	// ResetOnSuccess clears the count after a successful attempt: a user who
	// gets in starts afresh, while a per-client or per-IP count goes on.
	ResetOnSuccess bool
}

// Guard runs attempt under counters, the one sequence every credential
// check follows: refused with a *LimitedError before attempt runs when a
// counter is used up; a failed attempt (ok false) counted on every counter;
// a success clearing the ResetOnSuccess counters that had failures, which
// the check has just read, so a success with nothing to clear writes
// nothing.
func (l *Limiter) Guard(ctx context.Context, counters []Counter, attempt func() (ok bool, err error)) error {
	counts := make([]int64, len(counters))
	for i, c := range counters {
		if c.Policy.Max <= 0 {
			continue
		}
		n, left, err := l.store.Failures(ctx, c.Key)
		if err != nil {
			return err
		}
		if n >= c.Policy.Max {
			return &LimitedError{RetryAfter: left, Limit: c.Name}
		}
		counts[i] = n
	}
	ok, err := attempt()
	if err != nil {
		return err
	}
	for i, c := range counters {
		switch {
		case !ok:
			var limited *LimitedError
			if err := l.Fail(ctx, c.Key, c.Policy); err != nil && !errors.As(err, &limited) {
				return err
			}
		case c.ResetOnSuccess && counts[i] > 0:
			if err := l.Reset(ctx, c.Key); err != nil {
				return err
			}
		}
	}
	return nil
}
