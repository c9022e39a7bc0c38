package redisstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"authserver/clients"
)

// CreateClient implements clients.Store. The record {client:id} and the
// listing index {clients} are in different slots, so they are written one
// after the other: index, record (SET NX), index again. See the package doc
// for why that order keeps every client listed.
func (s *Store) CreateClient(ctx context.Context, c *clients.Client) error {
	if c == nil || c.ID == "" {
		return errors.New("redisstore: CreateClient: empty client ID")
	}
	d, err := marshal(c)
	if err != nil {
		return err
	}
	idx := s.global("clients")
	if err := s.rdb.SAdd(ctx, idx, c.ID).Err(); err != nil {
		return wrap("index client", err)
	}
	ok, err := s.rdb.SetNX(ctx, s.key("client", c.ID), d, 0).Result()
	if err != nil {
		return wrap("create client", err)
	}
	if !ok {
		return clients.ErrExists
	}
	return wrap("index client", s.rdb.SAdd(ctx, idx, c.ID).Err())
}

// GetClient implements clients.Store.
func (s *Store) GetClient(ctx context.Context, id string) (*clients.Client, error) {
	d, err := s.rdb.Get(ctx, s.key("client", id)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, clients.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get client", err)
	}
	var c clients.Client
	if err := unmarshal(d, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateClient implements clients.Store (SET XX: only an existing record).
func (s *Store) UpdateClient(ctx context.Context, c *clients.Client) error {
	if c == nil {
		return errors.New("redisstore: UpdateClient: nil client")
	}
	d, err := marshal(c)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetXX(ctx, s.key("client", c.ID), d, redis.KeepTTL).Result()
	if err != nil {
		return wrap("update client", err)
	}
	if !ok {
		return clients.ErrNotFound
	}
	return nil
}

// DeleteClient implements clients.Store: index entry first, then the record,
// the reverse of CreateClient.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := s.rdb.SRem(ctx, s.global("clients"), id).Err(); err != nil {
		return wrap("unindex client", err)
	}
	n, err := s.rdb.Del(ctx, s.key("client", id)).Result()
	if err != nil {
		return wrap("delete client", err)
	}
	if n == 0 {
		return clients.ErrNotFound
	}
	return nil
}

// ListClients implements clients.Store: every ID in the index, read in one
// pipeline; IDs without a record (a create that failed half-way) are
// skipped.
func (s *Store) ListClients(ctx context.Context) ([]*clients.Client, error) {
	ids, err := s.rdb.SMembers(ctx, s.global("clients")).Result()
	if err != nil {
		return nil, wrap("list clients", err)
	}
	ds, err := s.getMany(ctx, ids, func(id string) string { return s.key("client", id) })
	if err != nil {
		return nil, wrap("list clients", err)
	}
	out := make([]*clients.Client, 0, len(ids))
	for _, d := range ds {
		if d == "" {
			continue
		}
		var c clients.Client
		if err := unmarshal(d, &c); err != nil {
			return nil, err
		}
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *clients.Client) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// getMany GETs the key of each id in one pipeline (which a cluster client
// splits by node, where MGET would fail across slots); "" marks a missing
// key.
func (s *Store) getMany(ctx context.Context, ids []string, key func(string) string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.Get(ctx, key(id))
	}
	if err := execPipe(ctx, p); err != nil {
		return nil, err
	}
	out := make([]string, len(ids))
	for i, c := range cmds {
		v, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
