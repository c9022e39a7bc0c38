package fetcher

import "time"

// SetClock makes c read the time from now, so tests can pass a TTL
// without waiting.
func SetClock(c *Cache, now func() time.Time) { c.now = now }

// CacheLen is how many URLs c holds.
func CacheLen(c *Cache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// CheckAddress is the address rule, for the table of what is refused.
var CheckAddress = checkAddress
