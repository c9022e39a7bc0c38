package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"authserver/keys"
)

// Keys are stored under an insertion sequence, so keys with equal CreatedAt
// still list in the order they were added.

func (s *Store) CreateFirstKey(ctx context.Context, k keys.StoredKey) (keys.StoredKey, error) {
	var out keys.StoredKey
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		all, err := listKeys(b)
		if err != nil {
			return err
		}
		for _, old := range all { // oldest first, so the first match is the oldest
			if old.Alg == k.Alg {
				out = old
				return nil
			}
		}
		out = k
		return addKey(b, all, k)
	})
	return out, err
}

func (s *Store) AddKey(ctx context.Context, k keys.StoredKey) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		all, err := listKeys(b)
		if err != nil {
			return err
		}
		return addKey(b, all, k)
	})
}

func (s *Store) ListKeys(ctx context.Context) ([]keys.StoredKey, error) {
	var out []keys.StoredKey
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = listKeys(tx.Bucket(bucketKeys))
		return err
	})
	return out, err
}

func addKey(b *bolt.Bucket, existing []keys.StoredKey, k keys.StoredKey) error {
	// Two keys with one kid would make JWKS lookups ambiguous.
	for _, old := range existing {
		if old.ID == k.ID {
			return fmt.Errorf("embedded store: key %q already stored", k.ID)
		}
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, binary.BigEndian.AppendUint64(nil, seq), k)
}

// listKeys returns the keys oldest first: by CreatedAt, then insertion order.
func listKeys(b *bolt.Bucket) ([]keys.StoredKey, error) {
	var out []keys.StoredKey
	err := b.ForEach(func(k, _ []byte) error {
		var sk keys.StoredKey
		if _, err := getJSON(b, k, &sk); err != nil {
			return err
		}
		out = append(out, sk)
		return nil
	})
	slices.SortStableFunc(out, func(a, b keys.StoredKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

func (s *Store) RetireKey(ctx context.Context, kid string, at time.Time) (keys.StoredKey, error) {
	var out keys.StoredKey
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		seq, k, err := findKey(b, kid)
		if err != nil {
			return err
		}
		if k.RetiresAt.IsZero() || at.Before(k.RetiresAt) {
			k.RetiresAt = at.UTC()
			if err := putJSON(b, seq, k); err != nil {
				return err
			}
		}
		out = k
		return nil
	})
	return out, err
}

// findKey returns the sequence a kid is stored under, and its key.
func findKey(b *bolt.Bucket, kid string) ([]byte, keys.StoredKey, error) {
	c := b.Cursor()
	for seq, _ := c.First(); seq != nil; seq, _ = c.Next() {
		var k keys.StoredKey
		if _, err := getJSON(b, seq, &k); err != nil {
			return nil, keys.StoredKey{}, err
		}
		if k.ID == kid {
			return slices.Clone(seq), k, nil
		}
	}
	return nil, keys.StoredKey{}, keys.ErrKeyNotFound
}

// ClaimKeyRotation claims slot in one transaction, which also forgets
// claims that have run out (there is one per rotation, so few).
func (s *Store) ClaimKeyRotation(ctx context.Context, slot string, ttl time.Duration) (bool, error) {
	var won bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		won = false // a batch may run fn again
		b := tx.Bucket(bucketKeyRotations)
		now := time.Now()
		var (
			held    bool
			expired [][]byte
		)
		err := b.ForEach(func(k, v []byte) error {
			switch until := time.UnixMilli(int64(binary.BigEndian.Uint64(v))); {
			case !now.Before(until):
				expired = append(expired, slices.Clone(k))
			case string(k) == slot:
				held = true
			}
			return nil
		})
		for _, k := range expired {
			if err == nil {
				err = b.Delete(k)
			}
		}
		if err != nil || held {
			return err
		}
		won = true
		return b.Put([]byte(slot), binary.BigEndian.AppendUint64(nil, uint64(now.Add(ttl).UnixMilli())))
	})
	return won && err == nil, err
}
