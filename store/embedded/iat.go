package embedded

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/registration"
)

// Initial access tokens live in bucketIATs under the token's SHA-256; bbolt's
// single writer makes every use atomic.

func (s *Store) CreateInitialAccessToken(ctx context.Context, hash []byte, t registration.InitialAccessToken) error {
	if t.UsesLeft < 1 {
		return errors.New("embedded store: an initial access token needs at least one use")
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIATs)
		if b.Get(hash) != nil {
			return registration.ErrTokenExists
		}
		if err := putJSON(b, hash, t); err != nil {
			return err
		}
		return indexExpiry(tx, kindIAT, hash, t.ExpiresAt)
	})
}

func (s *Store) LookupInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (registration.InitialAccessToken, error) {
	now = orNow(now)
	var t registration.InitialAccessToken
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketIATs), hash, &t)
		if err == nil && (!ok || !usableIAT(t, now)) {
			err = registration.ErrTokenInvalid
		}
		return err
	})
	if err != nil {
		return registration.InitialAccessToken{}, err
	}
	return t, nil
}

func (s *Store) UseInitialAccessToken(ctx context.Context, hash []byte, now time.Time) (int64, error) {
	now = orNow(now)
	var left int64
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIATs)
		var t registration.InitialAccessToken
		ok, err := getJSON(b, hash, &t)
		if err != nil {
			return err
		}
		if !ok || !usableIAT(t, now) {
			return registration.ErrTokenInvalid
		}
		t.UsesLeft--
		left = t.UsesLeft
		if left == 0 {
			return b.Delete(hash)
		}
		return putJSON(b, hash, t)
	})
	if err != nil {
		return 0, err
	}
	return left, nil
}

func usableIAT(t registration.InitialAccessToken, now time.Time) bool {
	return t.UsesLeft > 0 && live(t.ExpiresAt, now)
}
