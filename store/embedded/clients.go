package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"authserver/clients"
)

func (s *Store) CreateClient(ctx context.Context, c *clients.Client) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClients)
		if b.Get([]byte(c.ID)) != nil {
			return clients.ErrExists
		}
		return putJSON(b, []byte(c.ID), c)
	})
}

func (s *Store) GetClient(ctx context.Context, id string) (*clients.Client, error) {
	var c clients.Client
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketClients), []byte(id), &c)
		if err == nil && !ok {
			err = clients.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *Store) UpdateClient(ctx context.Context, c *clients.Client) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClients)
		if b.Get([]byte(c.ID)) == nil {
			return clients.ErrNotFound
		}
		return putJSON(b, []byte(c.ID), c)
	})
}

func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketClients)
		if b.Get([]byte(id)) == nil {
			return clients.ErrNotFound
		}
		return b.Delete([]byte(id))
	})
}

// ListClients returns the clients in key order, which is ID order.
func (s *Store) ListClients(ctx context.Context) ([]*clients.Client, error) {
	var out []*clients.Client
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClients).ForEach(func(k, _ []byte) error {
			var c clients.Client
			if _, err := getJSON(tx.Bucket(bucketClients), k, &c); err != nil {
				return err
			}
			out = append(out, &c)
			return nil
		})
	})
	return out, err
}
