package fetcher

import (
	"context"
	"sync"
	"time"
)

// MinRefresh is how often Refresh may refetch one URL.
const MinRefresh = 10 * time.Second

// CacheConfig bounds a Cache. Zero values take the defaults.
type CacheConfig struct {
	MaxEntries int           // default 1024
	MinTTL     time.Duration // default 1m
	MaxTTL     time.Duration // default 24h
	ErrorTTL   time.Duration // how long a failure is remembered; default 30s
}

// Cache keeps successful GETs for their Lifetime and failures for
// ErrorTTL, so a document a client names (a jwks_uri, a metadata
// document) is fetched once however many requests need it, and a dead
// or slow one is not hammered.
type Cache struct {
	f   *Fetcher
	cfg CacheConfig
	now func() time.Time // tests move it

	mu      sync.Mutex
	entries map[cacheKey]*entry
}

type cacheKey struct{ url, accept string }

// entry is one URL's last outcome; while done is open a fetch is under
// way and resp, err are not yet set.
type entry struct {
	done      chan struct{}
	resp      *Response
	err       error
	expires   time.Time
	attempted time.Time // last fetch started, for MinRefresh
}

// NewCache returns a Cache fetching with f.
func NewCache(f *Fetcher, cfg CacheConfig) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 1024
	}
	if cfg.MinTTL <= 0 {
		cfg.MinTTL = time.Minute
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MaxTTL < cfg.MinTTL {
		cfg.MaxTTL = cfg.MinTTL
	}
	if cfg.ErrorTTL <= 0 {
		cfg.ErrorTTL = 30 * time.Second
	}
	return &Cache{f: f, cfg: cfg, now: time.Now, entries: map[cacheKey]*entry{}}
}

// Get returns the cached outcome of GET rawURL while it is fresh, else
// fetches it; concurrent misses on one URL share one fetch.
func (c *Cache) Get(ctx context.Context, rawURL, accept string) (*Response, error) {
	key := cacheKey{rawURL, accept}
	c.mu.Lock()
	e := c.entries[key]
	if e == nil || (!e.pending() && !c.now().Before(e.expires)) {
		e = c.start(key, nil)
	}
	c.mu.Unlock()
	return e.wait(ctx)
}

// Refresh fetches rawURL now (a JWKS without the kid a token names),
// but at most once per MinRefresh per URL; sooner, it returns the cached
// outcome. A failed refresh leaves a fresh success in place.
func (c *Cache) Refresh(ctx context.Context, rawURL, accept string) (*Response, error) {
	key := cacheKey{rawURL, accept}
	c.mu.Lock()
	e := c.entries[key]
	if e == nil || (!e.pending() && !c.now().Before(e.attempted.Add(MinRefresh))) {
		e = c.start(key, e)
	}
	c.mu.Unlock()
	return e.wait(ctx)
}

// start records a pending entry for key and fetches it in the
// background: the fetch is shared, so no one caller's cancellation may
// end it (the Fetcher's Timeout does). prev, when set, is kept if the
// new fetch fails while prev is a fresh success. c.mu is held.
func (c *Cache) start(key cacheKey, prev *entry) *entry {
	e := &entry{done: make(chan struct{}), attempted: c.now()}
	if _, ok := c.entries[key]; ok || c.makeRoom() {
		c.entries[key] = e
	}
	go func() {
		resp, err := c.f.Get(context.Background(), key.url, key.accept)
		c.mu.Lock()
		defer c.mu.Unlock()
		e.resp, e.err = resp, err
		now := c.now()
		if err != nil {
			e.expires = now.Add(c.cfg.ErrorTTL)
		} else {
			e.expires = now.Add(resp.Lifetime(c.cfg.MinTTL, c.cfg.MaxTTL))
		}
		if err != nil && prev != nil && prev.err == nil && now.Before(prev.expires) {
			kept := *prev
			kept.attempted = e.attempted
			if c.entries[key] == e {
				c.entries[key] = &kept
			}
		}
		close(e.done)
	}()
	return e
}

// makeRoom evicts, when the cache is full, the settled entry that
// expires first; pending ones are never evicted, so when every entry is
// pending it reports false and the new fetch goes uncached. c.mu is held.
func (c *Cache) makeRoom() bool {
	for len(c.entries) >= c.cfg.MaxEntries {
		var victim cacheKey
		var soonest *entry
		for k, e := range c.entries {
			if !e.pending() && (soonest == nil || e.expires.Before(soonest.expires)) {
				victim, soonest = k, e
			}
		}
		if soonest == nil {
			return false
		}
		delete(c.entries, victim)
	}
	return true
}

func (e *entry) pending() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

func (e *entry) wait(ctx context.Context) (*Response, error) {
	select {
	case <-e.done:
		return e.resp, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
