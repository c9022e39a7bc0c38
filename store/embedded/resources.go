package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"authserver/resources"
)

// bucketResources holds the protected resources: identifier URI -> record.
var bucketResources = []byte("resources")

func (s *Store) CreateResource(ctx context.Context, r resources.Resource) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResources)
		if b.Get([]byte(r.ID)) != nil {
			return resources.ErrExists
		}
		return putJSON(b, []byte(r.ID), r)
	})
}

func (s *Store) GetResource(ctx context.Context, id string) (resources.Resource, error) {
	var r resources.Resource
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketResources), []byte(id), &r)
		if err == nil && !ok {
			err = resources.ErrNotFound
		}
		return err
	})
	return r, err
}

// ListResources returns the resources in key order, which is ID order.
func (s *Store) ListResources(ctx context.Context) ([]resources.Resource, error) {
	var out []resources.Resource
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResources)
		return b.ForEach(func(k, _ []byte) error {
			var r resources.Resource
			if _, err := getJSON(b, k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

func (s *Store) DeleteResource(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketResources)
		if b.Get([]byte(id)) == nil {
			return resources.ErrNotFound
		}
		return b.Delete([]byte(id))
	})
}
