package clients

import (
	"context"
	"log/slog"
	"time"

	"authserver/cache"
)

// Changes announces client changes to every node (see cache.Changes).
type Changes = cache.Changes

// CachedStore keeps client records in memory, so authenticating a client
// costs no store round trip. Writes go through to the store, drop the local
// entry and are announced on Changes, so a disabled or rotated client stops
// at once on every node; entries also expire after ttl in case an
// announcement is lost.
type CachedStore struct {
	Store
	cache *cache.Cache[Client]
}

// NewCachedStore caches s. changes may be nil when this is the only node;
// log receives failures to announce a change.
func NewCachedStore(s Store, changes Changes, ttl time.Duration, log *slog.Logger) *CachedStore {
	return &CachedStore{Store: s, cache: cache.New[Client]("client", changes, ttl, log)}
}

// Run follows the change announcements until ctx ends.
func (c *CachedStore) Run(ctx context.Context) error { return c.cache.Run(ctx) }

// GetClient returns a copy of the client, from memory when it can.
func (c *CachedStore) GetClient(ctx context.Context, id string) (*Client, error) {
	cl, err := c.cache.Get(ctx, id, func(ctx context.Context, id string) (Client, error) {
		got, err := c.Store.GetClient(ctx, id)
		if err != nil {
			return Client{}, err
		}
		return *got, nil
	})
	if err != nil {
		return nil, err
	}
	return &cl, nil
}

// CreateClient stores c and announces it.
func (c *CachedStore) CreateClient(ctx context.Context, cl *Client) error {
	return c.cache.Written(ctx, cl.ID, c.Store.CreateClient(ctx, cl))
}

// UpdateClient stores c and announces the change.
func (c *CachedStore) UpdateClient(ctx context.Context, cl *Client) error {
	return c.cache.Written(ctx, cl.ID, c.Store.UpdateClient(ctx, cl))
}

// DeleteClient removes the client and announces it.
func (c *CachedStore) DeleteClient(ctx context.Context, id string) error {
	return c.cache.Written(ctx, id, c.Store.DeleteClient(ctx, id))
}
