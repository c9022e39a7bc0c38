package dpop

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// ReplayCache remembers the proofs already used, so each is accepted once
// (RFC 9449 §11.1). All server nodes that verify proofs for the same URLs
// must share one; the server backs it with Redis or bbolt.
type ReplayCache interface {
	// Remember records key until expiry and reports true, or reports false
	// if key is already recorded and not yet expired (a replay). It must
	// be atomic: of concurrent calls with one key, exactly one gets true.
	Remember(ctx context.Context, key string, expiry time.Time) (bool, error)
}

// ErrReplayCacheFull is a MemoryReplayCache at its bound with no entry yet
// expired. It refuses rather than forgets, since a forgotten entry is a
// replay let through.
var ErrReplayCacheFull = errors.New("dpop: replay cache is full")

// MemoryReplayCache is a ReplayCache in memory, bounded and expiring, for a
// single node and for tests.
type MemoryReplayCache struct {
	// Now is the cache's clock (nil: time.Now), set before first use. It
	// must agree with the Verifier's, or entries expire at the wrong time.
	Now func() time.Time

	mu         sync.Mutex
	maxEntries int
	expiries   map[string]time.Time
	queue      expiryQueue // every entry by expiry, soonest first
}

// NewMemoryReplayCache returns a cache holding at most maxEntries
// unexpired proofs at once.
func NewMemoryReplayCache(maxEntries int) *MemoryReplayCache {
	if maxEntries <= 0 {
		panic("dpop: replay cache needs room for at least one entry")
	}
	return &MemoryReplayCache{maxEntries: maxEntries, expiries: map[string]time.Time{}}
}

// Remember implements ReplayCache.
func (c *MemoryReplayCache) Remember(_ context.Context, key string, expiry time.Time) (bool, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropExpired(now)
	if _, seen := c.expiries[key]; seen {
		return false, nil
	}
	if len(c.expiries) >= c.maxEntries {
		return false, ErrReplayCacheFull
	}
	c.expiries[key] = expiry
	heap.Push(&c.queue, queued{key: key, expiry: expiry})
	return true, nil
}

// Len is the number of entries held, expired ones included until the next
// Remember drops them.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expiries)
}

func (c *MemoryReplayCache) dropExpired(now time.Time) {
	for len(c.queue) > 0 && !c.queue[0].expiry.After(now) {
		e := heap.Pop(&c.queue).(queued)
		delete(c.expiries, e.key)
	}
}

type queued struct {
	key    string
	expiry time.Time
}

// expiryQueue is a min-heap of entries by expiry, so dropping the expired
// ones costs only what is dropped.
type expiryQueue []queued

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expiry.Before(q[j].expiry) }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(queued)) }
func (q *expiryQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
