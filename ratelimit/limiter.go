// Package ratelimit counts failures (wrong passwords, wrong client secrets)
// per key in fixed windows kept in the shared store, so a lockout holds on
// every server node.
package ratelimit

import (
	"context"
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
