// Package cache keeps records of one kind in memory on every server node,
// kept fresh by change announcements: a write drops the local entry and is
// announced, so every node drops it at once; entries also expire after a
// TTL in case an announcement is lost.
package cache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Changes tells every server node that a record changed, so that caches
// drop it. The Redis store implements it with pub/sub; a single-node store
// needs none.
type Changes interface {
	// PublishChange announces that the record with id changed.
	PublishChange(ctx context.Context, id string) error
	// SubscribeChanges calls onChange for every announced id, and onReset
	// whenever announcements may have been missed (on every (re)subscription
	// and connection error), until ctx ends.
	SubscribeChanges(ctx context.Context, onChange func(id string), onReset func()) error
}

// Cache holds records of type T by id.
type Cache[T any] struct {
	kind    string // for logs: "client", "user"
	changes Changes
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu      sync.RWMutex
	entries map[string]entry[T]
	// epoch moves on with every invalidation, so a read that raced one does
	// not put back the record it read before the change.
	epoch atomic.Uint64
}

type entry[T any] struct {
	record  T
	expires time.Time
}

// New returns a cache of kind's records. changes may be nil when this is
// the only node; log receives failures to announce a change.
func New[T any](kind string, changes Changes, ttl time.Duration, log *slog.Logger) *Cache[T] {
	if log == nil {
		log = slog.Default()
	}
	return &Cache[T]{kind: kind, changes: changes, ttl: ttl, now: time.Now, log: log, entries: map[string]entry[T]{}}
}

// Run follows the change announcements until ctx ends.
func (c *Cache[T]) Run(ctx context.Context) error {
	if c.changes == nil {
		<-ctx.Done()
		return nil
	}
	return c.changes.SubscribeChanges(ctx, c.Invalidate, c.reset)
}

// Get returns the record with id, from memory when it can, else from load.
// Misses are not cached: unknown ids must not fill memory.
func (c *Cache[T]) Get(ctx context.Context, id string, load func(context.Context, string) (T, error)) (T, error) {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		return e.record, nil
	}
	epoch := c.epoch.Load()
	rec, err := load(ctx, id)
	if err != nil {
		return rec, err
	}
	c.mu.Lock()
	if c.epoch.Load() == epoch {
		c.entries[id] = entry[T]{record: rec, expires: c.now().Add(c.ttl)}
	}
	c.mu.Unlock()
	return rec, nil
}

// Written follows a write of the record with id (err is the write's): the
// local entry is dropped and the change announced. It returns err.
func (c *Cache[T]) Written(ctx context.Context, id string, err error) error {
	c.Invalidate(id)
	if err != nil || c.changes == nil {
		return err
	}
	if err := c.changes.PublishChange(ctx, id); err != nil {
		// The record is saved; failing the caller now would report a write
		// that happened as one that did not. Other nodes catch up within ttl.
		c.log.ErrorContext(ctx, c.kind+" change not announced; other nodes serve the old record until their cache entry expires",
			c.kind+"_id", id, "within", c.ttl, "err", err)
	}
	return nil
}

// Invalidate drops the entry of id.
func (c *Cache[T]) Invalidate(id string) {
	c.mu.Lock()
	c.epoch.Add(1)
	delete(c.entries, id)
	c.mu.Unlock()
}

func (c *Cache[T]) reset() {
	c.mu.Lock()
	c.epoch.Add(1)
	clear(c.entries)
	c.mu.Unlock()
}
