package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/keys"
)

// Signing keys live in two hashes with one hash tag, {keys}:all (kid -> key)
// and {keys}:alg (alg -> kid of its first key), so one script can read and
// write both on a cluster.
func (s *Store) keyKeys() []string {
	return []string{s.global("keys") + ":all", s.global("keys") + ":alg"}
}

// CreateFirstKey implements keys.Store in one script (scriptKeyFirst).
func (s *Store) CreateFirstKey(ctx context.Context, k keys.StoredKey) (keys.StoredKey, error) {
	if k.ID == "" || k.Alg == "" {
		return keys.StoredKey{}, errors.New("redisstore: CreateFirstKey: empty key ID or algorithm")
	}
	d, err := marshal(k)
	if err != nil {
		return keys.StoredKey{}, err
	}
	got, err := scriptKeyFirst.Run(ctx, s.rdb, s.keyKeys(), k.Alg, k.ID, d).Text()
	if err != nil {
		return keys.StoredKey{}, wrap("create first key", err)
	}
	var stored keys.StoredKey
	if err := unmarshal(got, &stored); err != nil {
		return keys.StoredKey{}, err
	}
	return stored, nil
}

// AddKey implements keys.Store (scriptKeyAdd). A key ID is never reused:
// tokens signed under it must keep verifying against the same key.
func (s *Store) AddKey(ctx context.Context, k keys.StoredKey) error {
	if k.ID == "" || k.Alg == "" {
		return errors.New("redisstore: AddKey: empty key ID or algorithm")
	}
	d, err := marshal(k)
	if err != nil {
		return err
	}
	ok, err := scriptKeyAdd.Run(ctx, s.rdb, s.keyKeys(), k.Alg, k.ID, d).Int()
	if err != nil {
		return wrap("add key", err)
	}
	if ok == 0 {
		return fmt.Errorf("redisstore: AddKey: key ID %q is already stored", k.ID)
	}
	return nil
}

// ListKeys implements keys.Store: oldest first, ties by key ID.
func (s *Store) ListKeys(ctx context.Context) ([]keys.StoredKey, error) {
	vals, err := s.rdb.HVals(ctx, s.keyKeys()[0]).Result()
	if err != nil {
		return nil, wrap("list keys", err)
	}
	out := make([]keys.StoredKey, 0, len(vals))
	for _, v := range vals {
		var k keys.StoredKey
		if err := unmarshal(v, &k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b keys.StoredKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RetireKey implements keys.Store: an optimistic transaction on the key
// hash (WATCH), so a concurrent write of the same hash makes it retry
// rather than be overwritten.
func (s *Store) RetireKey(ctx context.Context, kid string, at time.Time) (keys.StoredKey, error) {
	all := s.keyKeys()[0]
	var out keys.StoredKey
	retire := func(tx *redis.Tx) error {
		v, err := tx.HGet(ctx, all, kid).Result()
		if errors.Is(err, redis.Nil) {
			return keys.ErrKeyNotFound
		}
		if err != nil {
			return err
		}
		var k keys.StoredKey
		if err := unmarshal(v, &k); err != nil {
			return err
		}
		out = k
		if !k.RetiresAt.IsZero() && !at.Before(k.RetiresAt) {
			return nil
		}
		k.RetiresAt = at.UTC()
		d, err := marshal(k)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.HSet(ctx, all, kid, d).Err() })
		out = k
		return err
	}
	for range 10 {
		err := s.rdb.Watch(ctx, retire, all)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if errors.Is(err, keys.ErrKeyNotFound) {
			return keys.StoredKey{}, err
		}
		return out, wrap("retire key", err)
	}
	return keys.StoredKey{}, errors.New("redisstore: retire key: the key set kept changing; try again")
}

// ClaimKeyRotation implements keys.Store with SET NX PX: the first caller
// creates the slot's key, which Redis expires after ttl.
func (s *Store) ClaimKeyRotation(ctx context.Context, slot string, ttl time.Duration) (bool, error) {
	err := s.rdb.SetArgs(ctx, s.global("keys")+":rotation:"+slot, "1", redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, wrap("claim key rotation", err)
	}
	return true, nil
}
