// Package ratelimit counts failures (wrong passwords, wrong client secrets)
// per key in fixed windows kept in the shared store, so a lockout holds on
// every server node.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Limiter applies policies to keys. One Limiter serves a node: its
// in-flight bounds (Counter.InFlight) are counted in its memory.
type Limiter struct {
	store Store

	mu       sync.Mutex
	inFlight map[string]int
}

// New returns a Limiter over store.
func New(store Store) *Limiter { return &Limiter{store: store, inFlight: map[string]int{}} }

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

// Counter is one limit an attempt is held to: a failure count in the store
// (Policy), a bound on attempts running at once on this node (InFlight),
// or both.
type Counter struct {
	Name   string // which limit, for logs
	Key    string
	Policy Policy
	// ResetOnSuccess clears the count after a successful attempt: a user who
	// gets in starts afresh. Without it a success only gives its own slot
	// back, so a per-client or per-IP count of failures goes on.
	ResetOnSuccess bool
	// InFlight, when positive, refuses the attempt at once while that many
	// attempts under Key are waiting or running on this node, so one source
	// cannot fill the queue of password checks.
	InFlight int
}

// inFlightRetry is the Retry-After of an in-flight refusal: the attempts
// ahead of it finish in well under a second.
const inFlightRetry = time.Second

// Guard runs attempt under counters, the one sequence every credential
// check follows:
//  1. an in-flight slot is taken on every InFlight counter, or the attempt
//     is refused before anything is counted;
//  2. one slot is reserved on every counter with a Policy, each in one
//     atomic store step, before attempt runs; a counter at its maximum
//     refuses with a *LimitedError and the slots already reserved are given
//     back. So however many attempts arrive at once, at most Policy.Max of
//     them run per counter and window;
//  3. a failed attempt (ok false) keeps its reservations: they are its
//     failure count. A success resets the ResetOnSuccess counters and gives
//     the other slots back. An attempt that errs reached no verdict and
//     gives its slots back.
func (l *Limiter) Guard(ctx context.Context, counters []Counter, attempt func() (ok bool, err error)) error {
	for _, c := range counters {
		if c.InFlight <= 0 {
			continue
		}
		if !l.enter(c.Key, c.InFlight) {
			return &LimitedError{RetryAfter: inFlightRetry, Limit: c.Name}
		}
		defer l.leave(c.Key)
	}
	// The writes after the check must happen even when the caller hangs
	// up: a reservation left behind would count a success as a failure.
	after := context.WithoutCancel(ctx)
	var reserved []Counter
	giveBack := func() error {
		var errs []error
		for _, c := range reserved {
			errs = append(errs, l.store.Release(after, c.Key))
		}
		return errors.Join(errs...)
	}
	for _, c := range counters {
		if c.Policy.Max <= 0 {
			continue
		}
		ok, _, left, err := l.store.Reserve(ctx, c.Key, c.Policy.Max, c.Policy.Window)
		if err != nil {
			// Fail closed. This counter may or may not have counted; the
			// earlier ones surely did.
			return errors.Join(err, giveBack())
		}
		if !ok {
			return errors.Join(&LimitedError{RetryAfter: left, Limit: c.Name}, giveBack())
		}
		reserved = append(reserved, c)
	}
	ok, err := attempt()
	if err != nil {
		return errors.Join(err, giveBack())
	}
	if !ok {
		return nil
	}
	var errs []error
	for _, c := range reserved {
		if c.ResetOnSuccess {
			errs = append(errs, l.store.ResetFailures(after, c.Key))
		} else {
			errs = append(errs, l.store.Release(after, c.Key))
		}
	}
	return errors.Join(errs...)
}

// enter takes an in-flight slot under key if fewer than max are taken.
func (l *Limiter) enter(key string, max int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[key] >= max {
		return false
	}
	l.inFlight[key]++
	return true
}

func (l *Limiter) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight[key]--; l.inFlight[key] <= 0 {
		delete(l.inFlight, key)
	}
}
