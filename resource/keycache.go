package resource

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// refetchInterval is the least time between two fetches of the key set,
// however many tokens name unknown keys: a flood of made-up kids must not
// become a flood of requests to the issuer.
const refetchInterval = 10 * time.Second

// fetchTimeout bounds one shared fetch, whatever its waiters' contexts.
const fetchTimeout = 10 * time.Second

// keyCache holds the issuer's keys. All misses while a fetch runs wait
// for that one fetch.
type keyCache struct {
	issuer  string
	jwksURL string // fixed by Config, or found by discovery
	hc      *http.Client
	now     func() time.Time
	log     *slog.Logger

	mu          sync.Mutex
	keys        map[string]publicKey
	expires     time.Time     // when keys should be refreshed
	lastAttempt time.Time     // start, then end, of the latest fetch
	lastErr     error         // of the latest fetch
	inflight    chan struct{} // closed when the running fetch ends
	urlKnown    bool          // jwksURL is configured or discovered
}

func newKeyCache(cfg Config) *keyCache {
	return &keyCache{issuer: cfg.Issuer, jwksURL: cfg.JWKSURL, urlKnown: cfg.JWKSURL != "",
		hc: cfg.HTTPClient, now: cfg.Now, log: cfg.Logger}
}

// key returns the key kid names. It fetches the set when none is held,
// when the held one is stale, or when kid is unknown, but never within
// refetchInterval of the previous fetch; a stale set is still used when
// refreshing it fails.
func (c *keyCache) key(ctx context.Context, kid string) (publicKey, error) {
	c.mu.Lock()
	for {
		k, known := c.keys[kid]
		now := c.now()
		due := c.keys == nil || !known || !now.Before(c.expires)
		if !due || (now.Sub(c.lastAttempt) < refetchInterval && c.inflight == nil) {
			unsure := c.keys == nil || c.lastErr != nil
			c.mu.Unlock()
			switch {
			case known:
				return k, nil
			case unsure:
				// Without a good fetch there is no telling whether kid is real.
				return publicKey{}, ErrKeysUnavailable
			}
			return publicKey{}, ErrUnknownKey
		}
		if wait := c.inflight; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return publicKey{}, ctx.Err()
			}
			c.mu.Lock()
			// The fetch just ended, so lastAttempt is recent: the loop
			// answers from what it got.
			continue
		}
		// The fetch runs on its own, so a caller that gives up neither
		// cancels it for the others nor waits past its own deadline.
		c.inflight = make(chan struct{})
		c.lastAttempt = now
		go c.fetch(context.WithoutCancel(ctx))
	}
}

// fetch refreshes the set and wakes the waiters; inflight is set.
func (c *keyCache) fetch(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	url := c.url(ctx)
	keys, ttl, err := fetchJWKS(ctx, c.hc, url)
	c.mu.Lock()
	defer c.mu.Unlock()
	// The interval counts from the end too, so a slow issuer is not
	// asked again the moment it answers.
	c.lastAttempt, c.lastErr = c.now(), err
	if err != nil {
		c.log.Warn("resource: fetching the issuer's keys failed", "url", url, "err", err)
	} else {
		c.keys, c.expires = keys, c.now().Add(ttl)
	}
	close(c.inflight)
	c.inflight = nil
}

// url is the JWKS URL: the configured one, else the jwks_uri of the
// issuer's RFC 8414 metadata, else the issuer's /jwks.
func (c *keyCache) url(ctx context.Context) string {
	c.mu.Lock()
	u, done := c.jwksURL, c.urlKnown
	c.mu.Unlock()
	if done {
		return u
	}
	fallback := strings.TrimSuffix(c.issuer, "/") + "/jwks"
	raw, _, err := get(ctx, c.hc, metadataURL(c.issuer))
	if err != nil {
		return fallback
	}
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	// RFC 8414 §3.3: metadata naming another issuer must not be used.
	if json.Unmarshal(raw, &md) != nil || md.Issuer != c.issuer || md.JWKSURI == "" {
		c.log.Warn("resource: unusable authorization server metadata", "issuer", c.issuer)
		return fallback
	}
	c.mu.Lock()
	c.jwksURL, c.urlKnown = md.JWKSURI, true
	c.mu.Unlock()
	return md.JWKSURI
}

// metadataURL is the RFC 8414 §3.1 metadata URL of an issuer: the
// well-known segment goes between host and path.
func metadataURL(issuer string) string {
	const wk = "/.well-known/oauth-authorization-server"
	scheme, rest, ok := strings.Cut(issuer, "://")
	if !ok {
		return strings.TrimSuffix(issuer, "/") + wk
	}
	host, path, _ := strings.Cut(rest, "/")
	path = strings.TrimSuffix(path, "/")
	if path != "" {
		path = "/" + path
	}
	return scheme + "://" + host + wk + path
}
