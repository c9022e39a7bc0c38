package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// Walk calls fn with every key and value in the file, in one read
// transaction: the buckets at every depth, found by reading the file rather
// than from the list of buckets this package creates, so nothing it holds is
// missed. path is the bucket path of the pair; value is nil for a nested
// bucket. It is what a copy of the file would show, and is used to check
// that the file holds no secret.
func (s *Store) Walk(ctx context.Context, fn func(path [][]byte, key, value []byte) error) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if err := fn(nil, name, nil); err != nil {
				return err
			}
			return walkBucket([][]byte{name}, b, fn)
		})
	})
}

func walkBucket(path [][]byte, b *bolt.Bucket, fn func(path [][]byte, key, value []byte) error) error {
	return b.ForEach(func(k, v []byte) error {
		if err := fn(path, k, v); err != nil {
			return err
		}
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walkBucket(append(path[:len(path):len(path)], k), nested, fn)
			}
		}
		return nil
	})
}
