package embedded

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/tokens"
)

type codeRecord struct {
	Code tokens.Code `json:"code"`
	Used bool        `json:"used,omitempty"`
}

func (s *Store) SaveCode(ctx context.Context, hash []byte, c tokens.Code) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := putJSON(tx.Bucket(bucketCodes), hash, codeRecord{Code: c}); err != nil {
			return err
		}
		return indexExpiry(tx, kindCode, hash, c.ExpiresAt)
	})
}

func (s *Store) RedeemCode(ctx context.Context, hash []byte, now time.Time) (tokens.Code, error) {
	now = orNow(now)
	var out tokens.Code
	err := s.update(ctx, func(tx *bolt.Tx) error {
		// Decoded afresh on every run: a batch may run this function again,
		// and a record left from an earlier run would keep its fields.
		var rec codeRecord
		out = tokens.Code{}
		b := tx.Bucket(bucketCodes)
		ok, err := getJSON(b, hash, &rec)
		if err != nil {
			return err
		}
		if !ok || !live(rec.Code.ExpiresAt, now) {
			return tokens.ErrCodeNotFound
		}
		out = rec.Code
		if rec.Used {
			return tokens.ErrCodeReused // nothing to write: roll back
		}
		return putJSON(b, hash, codeRecord{Code: rec.Code, Used: true})
	})
	if err == nil || errors.Is(err, tokens.ErrCodeReused) {
		return out, err
	}
	return tokens.Code{}, err
}

func (s *Store) DenyJTI(ctx context.Context, jti string, until time.Time) error {
	if !live(until, time.Now()) {
		return nil // already over: nothing to deny
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDenied)
		var old time.Time
		if _, err := getJSON(b, []byte(jti), &old); err != nil {
			return err
		}
		if old.After(until) {
			return nil // a longer denial stands
		}
		if err := putJSON(b, []byte(jti), until); err != nil {
			return err
		}
		return moveExpiry(tx, kindDenied, []byte(jti), old, until)
	})
}

func (s *Store) IsDenied(ctx context.Context, jti string) (bool, error) {
	var until time.Time
	err := s.view(ctx, func(tx *bolt.Tx) error {
		_, err := getJSON(tx.Bucket(bucketDenied), []byte(jti), &until)
		return err
	})
	return err == nil && live(until, time.Now()), err
}
