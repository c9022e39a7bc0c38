package clients

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Changes tells every server node that a client record changed, so that
// caches drop it. The Redis store implements it with pub/sub; a
// single-node store needs none.
type Changes interface {
	// PublishChange announces that the client with id changed.
	PublishChange(ctx context.Context, id string) error
	// SubscribeChanges calls onChange for every announced id, and onReset
	// whenever announcements may have been missed (on every (re)subscription
	// and connection error), until ctx ends.
	SubscribeChanges(ctx context.Context, onChange func(id string), onReset func()) error
}

// CachedStore keeps client records in memory, so authenticating a client
// costs no store round trip. Writes go through to the store, drop the local
// entry and are announced on Changes, so a disabled or rotated client stops
// at once on every node; entries also expire after ttl in case an
// announcement is lost.
type CachedStore struct {
	Store
	changes Changes
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.RWMutex
	entries map[string]cached
	// epoch moves on with every invalidation, so a read that raced one does
	// not put back the record it read before the change.
	epoch atomic.Uint64
}

type cached struct {
	client  Client
	expires time.Time
}

// NewCachedStore caches s. changes may be nil when this is the only node;
// log receives failures to announce a change.
func NewCachedStore(s Store, changes Changes, ttl time.Duration, log *slog.Logger) *CachedStore {
	return &CachedStore{Store: s, changes: changes, ttl: ttl, now: time.Now, log: log, entries: map[string]cached{}}
}

// Run follows the change announcements until ctx ends.
func (c *CachedStore) Run(ctx context.Context) error {
	if c.changes == nil {
		<-ctx.Done()
		return nil
	}
	return c.changes.SubscribeChanges(ctx, c.invalidate, c.reset)
}

// GetClient returns a copy of the client, from memory when it can.
func (c *CachedStore) GetClient(ctx context.Context, id string) (*Client, error) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		cl := e.client
		return &cl, nil
	}
	epoch := c.epoch.Load()
	cl, err := c.Store.GetClient(ctx, id)
	if err != nil {
		return nil, err // misses are not cached: unknown ids must not fill memory
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		c.entries[id] = cached{client: *cl, expires: c.now().Add(c.ttl)}
	}
	c.mu.Unlock()
	return cl, nil
}

// CreateClient stores c and announces it.
func (c *CachedStore) CreateClient(ctx context.Context, cl *Client) error {
	return c.write(ctx, cl.ID, c.Store.CreateClient(ctx, cl))
}

// UpdateClient stores c and announces the change.
func (c *CachedStore) UpdateClient(ctx context.Context, cl *Client) error {
	return c.write(ctx, cl.ID, c.Store.UpdateClient(ctx, cl))
}

// DeleteClient removes the client and announces it.
func (c *CachedStore) DeleteClient(ctx context.Context, id string) error {
	return c.write(ctx, id, c.Store.DeleteClient(ctx, id))
}

func (c *CachedStore) write(ctx context.Context, id string, err error) error {
	c.invalidate(id)
	if err != nil || c.changes == nil {
		return err
	}
	if err := c.changes.PublishChange(ctx, id); err != nil {
		// The record is saved; failing the caller now would report a write
		// that happened as one that did not. Other nodes catch up within ttl.
		c.log.ErrorContext(ctx, "client change not announced; other nodes serve the old record until their cache entry expires",
			"client_id", id, "within", c.ttl, "err", err)
	}
	return nil
}

func (c *CachedStore) invalidate(id string) {
	c.mu.Lock()
	c.epoch.Add(1)
	delete(c.entries, id)
	c.mu.Unlock()
}

func (c *CachedStore) reset() {
	c.mu.Lock()
	c.epoch.Add(1)
	clear(c.entries)
	c.mu.Unlock()
}
