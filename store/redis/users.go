package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/users"
)

// usernameLease is how long a username stays reserved by a CreateUser that
// has not finished: a create that dies half-way frees the name by itself.
const usernameLease = 30 * time.Second

// A user is two keys in two slots, {user:id} (the record) and {uname:name}
// (the username's owner), plus the listing index {users}. No script can
// span them on a cluster, so the username key is the commit point: a user
// exists when its record exists AND its username key names its ID. Reads
// check both, so every half-done create or delete reads as "no such user".

// CreateUser implements users.Store:
//  1. SET {uname:name} id NX PX lease: claims the username (ErrExists if
//     taken), for a limited time;
//  2. SET {user:id} record NX: ErrExists if the ID is taken, and then the
//     claim is released (only if still ours);
//  3. SADD {users} id;
//  4. PERSIST the claim if it is still ours: the user now exists for good.
func (s *Store) CreateUser(ctx context.Context, u *users.User) error {
	if u == nil || u.ID == "" || u.Username == "" {
		return errors.New("redisstore: CreateUser: empty user ID or username")
	}
	d, err := marshal(u)
	if err != nil {
		return err
	}
	nameKey, recKey := s.key("uname", u.Username), s.key("user", u.ID)
	ok, err := s.rdb.SetNX(ctx, nameKey, u.ID, usernameLease).Result()
	if err != nil {
		return wrap("claim username", err)
	}
	if !ok {
		return users.ErrExists
	}
	ok, err = s.rdb.SetNX(ctx, recKey, d, 0).Result()
	if err != nil || !ok {
		// Release the claim; if this fails too, the lease frees it.
		_ = scriptDelIfEquals.Run(ctx, s.rdb, []string{nameKey}, u.ID).Err()
		if err != nil {
			return wrap("create user", err)
		}
		return users.ErrExists
	}
	if err := s.rdb.SAdd(ctx, s.global("users"), u.ID).Err(); err != nil {
		s.undoCreate(ctx, nameKey, recKey, u.ID)
		return wrap("index user", err)
	}
	kept, err := scriptPersistIfEquals.Run(ctx, s.rdb, []string{nameKey}, u.ID).Int()
	if err != nil || kept == 0 {
		s.undoCreate(ctx, nameKey, recKey, u.ID)
		if err != nil {
			return wrap("confirm username", err)
		}
		return fmt.Errorf("redisstore: CreateUser: the claim on username %q lapsed before the user was stored", u.Username)
	}
	return nil
}

// undoCreate removes what a failed CreateUser wrote, best effort: whatever
// stays behind has no username claim and so reads as no user.
func (s *Store) undoCreate(ctx context.Context, nameKey, recKey, id string) {
	_ = scriptDelIfEquals.Run(ctx, s.rdb, []string{nameKey}, id).Err()
	_ = s.rdb.Del(ctx, recKey).Err()
	_ = s.rdb.SRem(ctx, s.global("users"), id).Err()
}

// GetUser implements users.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*users.User, error) {
	u, err := s.record(ctx, id)
	if err != nil {
		return nil, err
	}
	owner, err := s.rdb.Get(ctx, s.key("uname", u.Username)).Result()
	if errors.Is(err, redis.Nil) || err == nil && owner != id {
		return nil, users.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get user", err)
	}
	return u, nil
}

// GetUserByUsername implements users.Store.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (*users.User, error) {
	id, err := s.rdb.Get(ctx, s.key("uname", username)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, users.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get user", err)
	}
	u, err := s.record(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Username != username {
		return nil, users.ErrNotFound
	}
	return u, nil
}

// record reads {user:id} alone.
func (s *Store) record(ctx context.Context, id string) (*users.User, error) {
	d, err := s.rdb.Get(ctx, s.key("user", id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, users.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get user", err)
	}
	var u users.User
	if err := unmarshal(d, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUser implements users.Store. The username cannot change (its key is
// the user's identity), so an update naming another username finds no user.
func (s *Store) UpdateUser(ctx context.Context, u *users.User) error {
	if u == nil {
		return errors.New("redisstore: UpdateUser: nil user")
	}
	cur, err := s.GetUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if cur.Username != u.Username {
		return fmt.Errorf("%w: user %q is %q, not %q (usernames do not change)", users.ErrNotFound, u.ID, cur.Username, u.Username)
	}
	d, err := marshal(u)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetXX(ctx, s.key("user", u.ID), d, redis.KeepTTL).Result()
	if err != nil {
		return wrap("update user", err)
	}
	if !ok {
		return users.ErrNotFound // deleted meanwhile
	}
	return nil
}

// DeleteUser implements users.Store: the username claim goes first (the
// commit point: from then on the user does not exist and the name is free),
// then the index entry, then the record.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	u, err := s.GetUser(ctx, id)
	if err != nil {
		return err
	}
	n, err := scriptDelIfEquals.Run(ctx, s.rdb, []string{s.key("uname", u.Username)}, id).Int()
	if err != nil {
		return wrap("release username", err)
	}
	if n == 0 {
		return users.ErrNotFound // a concurrent delete won
	}
	if err := s.rdb.SRem(ctx, s.global("users"), id).Err(); err != nil {
		return wrap("unindex user", err)
	}
	return wrap("delete user", s.rdb.Del(ctx, s.key("user", id)).Err())
}

// ListUsers implements users.Store: the records of the indexed IDs, then
// their username keys, each in one pipeline; only users whose username key
// names them are listed.
func (s *Store) ListUsers(ctx context.Context) ([]*users.User, error) {
	ids, err := s.rdb.SMembers(ctx, s.global("users")).Result()
	if err != nil {
		return nil, wrap("list users", err)
	}
	ds, err := s.getMany(ctx, ids, func(id string) string { return s.key("user", id) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	var recs []*users.User
	for _, d := range ds {
		if d == "" {
			continue
		}
		var u users.User
		if err := unmarshal(d, &u); err != nil {
			return nil, err
		}
		recs = append(recs, &u)
	}
	names := make([]string, len(recs))
	for i, u := range recs {
		names[i] = u.Username
	}
	owners, err := s.getMany(ctx, names, func(n string) string { return s.key("uname", n) })
	if err != nil {
		return nil, wrap("list users", err)
	}
	out := make([]*users.User, 0, len(recs))
	for i, u := range recs {
		if owners[i] == u.ID {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *users.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}
