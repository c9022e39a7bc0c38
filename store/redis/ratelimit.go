package redisstore

import (
	"context"
	"fmt"
	"time"
)

// Reserve implements ratelimit.Store (scriptRateReserve): the check and
// the increment are one script on one key, so they are atomic on a single
// node and legal on a cluster.
func (s *Store) Reserve(ctx context.Context, key string, max int64, window time.Duration) (bool, int64, time.Duration, error) {
	if window <= 0 {
		return false, 0, 0, fmt.Errorf("redisstore: Reserve: window %v must be positive", window)
	}
	v, err := scriptRateReserve.Run(ctx, s.rdb, []string{s.key("rl", key)}, max, millis(window)).Int64Slice()
	if err != nil {
		return false, 0, 0, wrap("reserve", err)
	}
	if len(v) != 3 {
		return false, 0, 0, fmt.Errorf("redisstore: reserve: bad reply %v", v)
	}
	return v[0] == 1, v[1], time.Duration(v[2]) * time.Millisecond, nil
}

// Release implements ratelimit.Store (scriptRateRelease).
func (s *Store) Release(ctx context.Context, key string) error {
	return wrap("release", scriptRateRelease.Run(ctx, s.rdb, []string{s.key("rl", key)}).Err())
}

// AddFailure implements ratelimit.Store (scriptRateAdd): INCR, and PEXPIRE
// only when the count is new, in one atomic step.
func (s *Store) AddFailure(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("redisstore: AddFailure: window %v must be positive", window)
	}
	v, err := scriptRateAdd.Run(ctx, s.rdb, []string{s.key("rl", key)}, millis(window)).Int64Slice()
	if err != nil {
		return 0, 0, wrap("add failure", err)
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("redisstore: add failure: bad reply %v", v)
	}
	return v[0], time.Duration(v[1]) * time.Millisecond, nil
}

// ResetFailures implements ratelimit.Store.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	return wrap("reset failures", s.rdb.Del(ctx, s.key("rl", key)).Err())
}
