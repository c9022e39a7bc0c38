package redisstore

import (
	"context"
	"fmt"
	"time"
)

// Failures implements ratelimit.Store (scriptRateRead).
func (s *Store) Failures(ctx context.Context, key string) (int64, time.Duration, error) {
	return rate("read failures", func() ([]int64, error) {
		return scriptRateRead.Run(ctx, s.rdb, []string{s.key("rl", key)}).Int64Slice()
	})
}

// AddFailure implements ratelimit.Store (scriptRateAdd): INCR, and PEXPIRE
// only when the count is new, in one atomic step.
func (s *Store) AddFailure(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window <= 0 {
		return 0, 0, fmt.Errorf("redisstore: AddFailure: window %v must be positive", window)
	}
	return rate("add failure", func() ([]int64, error) {
		return scriptRateAdd.Run(ctx, s.rdb, []string{s.key("rl", key)}, millis(window)).Int64Slice()
	})
}

// ResetFailures implements ratelimit.Store.
func (s *Store) ResetFailures(ctx context.Context, key string) error {
	return wrap("reset failures", s.rdb.Del(ctx, s.key("rl", key)).Err())
}

func rate(op string, run func() ([]int64, error)) (int64, time.Duration, error) {
	v, err := run()
	if err != nil {
		return 0, 0, wrap(op, err)
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("redisstore: %s: bad reply %v", op, v)
	}
	return v[0], time.Duration(v[1]) * time.Millisecond, nil
}
