package embedded

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"authserver/users"
)

func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		byID, byName := tx.Bucket(bucketUsers), tx.Bucket(bucketUsernames)
		if byID.Get([]byte(u.ID)) != nil || byName.Get([]byte(u.Username)) != nil {
			return users.ErrExists
		}
		if err := byName.Put([]byte(u.Username), []byte(u.ID)); err != nil {
			return err
		}
		return putJSON(byID, []byte(u.ID), u)
	})
}

func (s *Store) GetUser(ctx context.Context, id string) (*users.User, error) {
	var u users.User
	err := s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketUsers), []byte(id), &u)
		if err == nil && !ok {
			err = users.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (s *Store) GetUserByUsername(ctx context.Context, username string) (*users.User, error) {
	var u users.User
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get([]byte(username))
		if id == nil {
			return users.ErrNotFound
		}
		ok, err := getJSON(tx.Bucket(bucketUsers), id, &u)
		if err == nil && !ok {
			return fmt.Errorf("embedded store: username %q points at missing user %q", username, id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUser replaces the user. The contract keeps usernames fixed; a changed
// one is still handled (index moved, ErrExists if taken) so the index can
// never point at the wrong user.
func (s *Store) UpdateUser(ctx context.Context, u *users.User) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		byID, byName := tx.Bucket(bucketUsers), tx.Bucket(bucketUsernames)
		var old users.User
		ok, err := getJSON(byID, []byte(u.ID), &old)
		if err != nil {
			return err
		}
		if !ok {
			return users.ErrNotFound
		}
		if old.Username != u.Username {
			if byName.Get([]byte(u.Username)) != nil {
				return users.ErrExists
			}
			if err := byName.Delete([]byte(old.Username)); err != nil {
				return err
			}
			if err := byName.Put([]byte(u.Username), []byte(u.ID)); err != nil {
				return err
			}
		}
		return putJSON(byID, []byte(u.ID), u)
	})
}

func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		byID, byName := tx.Bucket(bucketUsers), tx.Bucket(bucketUsernames)
		var old users.User
		ok, err := getJSON(byID, []byte(id), &old)
		if err != nil {
			return err
		}
		if !ok {
			return users.ErrNotFound
		}
		if err := byName.Delete([]byte(old.Username)); err != nil {
			return err
		}
		return byID.Delete([]byte(id))
	})
}

// ListUsers walks the username index, which bbolt keeps in username order.
func (s *Store) ListUsers(ctx context.Context) ([]*users.User, error) {
	var out []*users.User
	err := s.view(ctx, func(tx *bolt.Tx) error {
		byID := tx.Bucket(bucketUsers)
		return tx.Bucket(bucketUsernames).ForEach(func(name, id []byte) error {
			var u users.User
			ok, err := getJSON(byID, id, &u)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("embedded store: username %q points at missing user %q", name, id)
			}
			out = append(out, &u)
			return nil
		})
	})
	return out, err
}
