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

// Reserve implements ratelimit.Store: the read and the increment are one
// bbolt transaction, which bbolt runs alone.
func (s *Store) Reserve(ctx context.Context, key string, max int64, length time.Duration) (bool, int64, time.Duration, error) {
	var w window
	var ok bool
	var now time.Time
	// A refusal needs no write: a read that finds the count at max is a
	// refusal at that instant, and spares a locked-out guesser's requests
	// a commit and fsync each.
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketRateLimit), []byte(key), &w)
		return err
	})
	if now = time.Now(); err == nil && live(w.Until, now) && w.Count >= max {
		return false, w.Count, w.Until.Sub(now), nil
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRateLimit)
		// Reset on every run: a batched transaction may run this again.
		w, ok = window{}, false
		if _, err := getJSON(b, []byte(key), &w); err != nil {
			return err
		}
		was := w.Until
		now = time.Now()
		if !live(w.Until, now) {
			w = window{}
		}
		if w.Count >= max {
			return nil
		}
		if w.Count == 0 {
			w.Until = now.Add(length)
		}
		w.Count++
		ok = true
		return putWindow(tx, key, w, was)
	})
	if err != nil {
		return false, 0, 0, err
	}
	if w.Until.IsZero() {
		return ok, w.Count, 0, nil
	}
	return ok, w.Count, w.Until.Sub(now), nil
}

// Release implements ratelimit.Store.
func (s *Store) Release(ctx context.Context, key string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRateLimit)
		var w window
		if _, err := getJSON(b, []byte(key), &w); err != nil {
			return err
		}
		if !live(w.Until, time.Now()) || w.Count <= 0 {
			return nil
		}
		w.Count--
		return putJSON(b, []byte(key), w)
	})
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
		was := w.Until
		now = time.Now()
		if !live(w.Until, now) {
			w = window{Until: now.Add(length)}
		}
		w.Count++
		return putWindow(tx, key, w, was)
	})
	if err != nil {
		return 0, 0, err
	}
	return w.Count, w.Until.Sub(now), nil
}

// putWindow stores w, whose window ended at was before this write.
func putWindow(tx *bolt.Tx, key string, w window, was time.Time) error {
	if err := putJSON(tx.Bucket(bucketRateLimit), []byte(key), w); err != nil {
		return err
	}
	return moveExpiry(tx, kindRateLimit, []byte(key), was, w.Until)
}

func (s *Store) ResetFailures(ctx context.Context, key string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRateLimit).Delete([]byte(key))
	})
}
