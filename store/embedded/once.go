package embedded

import (
	"context"
	"crypto/sha256"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RememberOnce records key until until; fresh is false when it is recorded
// already and not expired. Keys are stored as their SHA-256, so a caller's
// text never lands in the file as it came; the janitor removes expired
// ones through the expiry index.
func (s *Store) RememberOnce(ctx context.Context, key string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	now := time.Now()
	var fresh bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		fresh = false // a batch may run fn again
		b := tx.Bucket(bucketOnce)
		var old time.Time
		found, err := getJSON(b, sum[:], &old)
		if err != nil {
			return err
		}
		if found && live(old, now) {
			return nil
		}
		if err := putJSON(b, sum[:], until); err != nil {
			return err
		}
		fresh = true
		if found {
			return moveExpiry(tx, kindOnce, sum[:], old, until)
		}
		return indexExpiry(tx, kindOnce, sum[:], until)
	})
	return fresh, err
}
