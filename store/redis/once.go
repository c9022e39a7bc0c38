package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RememberOnce records key until until in one round trip: SET NX PXAT on a
// key named by the SHA-256 of key, so a caller's text (a jti) never becomes
// a raw Redis key. fresh is false when key is already recorded.
func (s *Store) RememberOnce(ctx context.Context, key string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	err := s.rdb.Do(ctx, "SET", s.key("once", hex.EncodeToString(sum[:])), "1", "NX", "PXAT", expireAtMs(until)).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil // NX: the key was there
	}
	if err != nil {
		return false, wrap("remember once", err)
	}
	return true, nil
}
