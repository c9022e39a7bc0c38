package embedded

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// window is one fixed rate-limit window.
type window struct {
	Count int64     `json:"count"`
	Until time.Time `json:"until"`
}

func (s *Store) Failures(ctx context.Context, key string) (int64, time.Duration, error) {
	var w window
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketRateLimit), []byte(key), &w)
		return err
	})
	now := time.Now()
	if err != nil || !live(w.Until, now) {
		return 0, 0, err
	}
	return w.Count, w.Until.Sub(now), nil
}

func (s *Store) AddFailure(ctx context.Context, key string, length time.Duration) (int64, time.Duration, error) {
	var w window
	var now time.Time
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRateLimit)
		w = window{}
		if _, err := getJSON(b, []byte(key), &w); err != nil {
			return err
		}
		now = time.Now()
		if !live(w.Until, now) {
			w = window{Until: now.Add(length)}
		}
		w.Count++
		return putJSON(b, []byte(key), w)
	})
	if err != nil {
		return 0, 0, err
	}
	return w.Count, w.Until.Sub(now), nil
}

func (s *Store) ResetFailures(ctx context.Context, key string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRateLimit).Delete([]byte(key))
	})
}
