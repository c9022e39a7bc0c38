package fetcher_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/fetcher"
)

// clock is a time tests move by hand.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func newCache(t *testing.T, o *origin, cfg fetcher.CacheConfig) (*fetcher.Cache, *clock) {
	t.Helper()
	c := fetcher.NewCache(newFetcher(t, o, fetcher.Config{AllowLoopback: true}), cfg)
	clk := &clock{}
	fetcher.SetClock(c, clk.now)
	return c, clk
}

// maxAge answers each path with the max-age named in it ("/60").
func maxAge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "max-age="+r.URL.Path[1:])
	w.Write([]byte(r.URL.Path))
}

// A response is cached for its max-age clamped to [MinTTL, MaxTTL].
func TestCacheTTLFromHeadersClamped(t *testing.T) {
	cases := []struct {
		path         string
		fresh, stale time.Duration // still cached at fresh, refetched at stale
	}{
		{"/5", 59 * time.Second, 61 * time.Second},     // below MinTTL: 1m
		{"/600", 9 * time.Minute, 11 * time.Minute},    // as given
		{"/86400", 59 * time.Minute, 61 * time.Minute}, // above MaxTTL: 1h
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			o := newOrigin(t, maxAge)
			c, clk := newCache(t, o, fetcher.CacheConfig{MinTTL: time.Minute, MaxTTL: time.Hour})
			get := func() {
				if resp, err := c.Get(bg, o.URL+tc.path, ""); err != nil || string(resp.Body) != tc.path {
					t.Fatalf("Get: %v", err)
				}
			}
			get()
			clk.advance(tc.fresh)
			get()
			if h := o.hits.Load(); h != 1 {
				t.Fatalf("%d fetches within the lifetime, want 1", h)
			}
			clk.advance(tc.stale - tc.fresh)
			get()
			if h := o.hits.Load(); h != 2 {
				t.Fatalf("%d fetches after the lifetime, want 2", h)
			}
		})
	}
}

func TestCacheConcurrentMissesShareOneFetch(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(100 * time.Millisecond)
		w.Write([]byte("jwks"))
	})
	c, _ := newCache(t, o, fetcher.CacheConfig{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			resp, err := c.Get(bg, o.URL+"/jwks", "application/json")
			if err == nil && string(resp.Body) != "jwks" {
				err = fmt.Errorf("body %q", resp.Body)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := o.hits.Load(); h != 1 {
		t.Fatalf("50 concurrent misses made %d fetches, want 1", h)
	}
}

// A caller that gives up does not end the fetch the others wait on.
func TestCacheCallerCancelLeavesSharedFetch(t *testing.T) {
	release := make(chan struct{})
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		<-release
		w.Write([]byte("doc"))
	})
	c, _ := newCache(t, o, fetcher.CacheConfig{})
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { _, err := c.Get(ctx, o.URL, ""); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: err = %v", err)
	}
	close(release)
	if resp, err := c.Get(bg, o.URL, ""); err != nil || string(resp.Body) != "doc" || o.hits.Load() != 1 {
		t.Fatalf("err = %v, %d fetches", err, o.hits.Load())
	}
}

func TestCacheRefreshRateLimited(t *testing.T) {
	var failing atomic.Bool
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte("keys"))
	})
	c, clk := newCache(t, o, fetcher.CacheConfig{})
	if _, err := c.Get(bg, o.URL, ""); err != nil {
		t.Fatal(err)
	}
	for range 5 { // an attacker's tokens with unknown kids
		if resp, err := c.Refresh(bg, o.URL, ""); err != nil || string(resp.Body) != "keys" {
			t.Fatalf("Refresh: %v", err)
		}
	}
	if h := o.hits.Load(); h != 1 {
		t.Fatalf("%d fetches for refreshes within MinRefresh, want 1", h)
	}
	clk.advance(fetcher.MinRefresh + time.Second)
	c.Refresh(bg, o.URL, "")
	c.Refresh(bg, o.URL, "")
	if h := o.hits.Load(); h != 2 {
		t.Fatalf("%d fetches after MinRefresh, want 2", h)
	}

	// A failed refresh is reported but keeps the fresh keys for Get.
	failing.Store(true)
	clk.advance(fetcher.MinRefresh + time.Second)
	if _, err := c.Refresh(bg, o.URL, ""); !errors.Is(err, fetcher.ErrStatus) {
		t.Fatalf("failed Refresh: err = %v", err)
	}
	if resp, err := c.Get(bg, o.URL, ""); err != nil || string(resp.Body) != "keys" {
		t.Fatalf("Get after a failed refresh: %v", err)
	}
	c.Refresh(bg, o.URL, "")
	if h := o.hits.Load(); h != 3 {
		t.Fatalf("%d fetches, want 3: a failed refresh counts against MinRefresh too", h)
	}
}

func TestCacheErrorsRememberedForErrorTTL(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	c, clk := newCache(t, o, fetcher.CacheConfig{ErrorTTL: 30 * time.Second})
	for range 3 {
		resp, err := c.Get(bg, o.URL, "")
		if !errors.Is(err, fetcher.ErrStatus) || resp == nil || resp.StatusCode != 500 {
			t.Fatalf("err = %v, resp = %v", err, resp)
		}
	}
	clk.advance(29 * time.Second)
	c.Get(bg, o.URL, "")
	if h := o.hits.Load(); h != 1 {
		t.Fatalf("%d fetches within ErrorTTL, want 1", h)
	}
	clk.advance(2 * time.Second)
	c.Get(bg, o.URL, "")
	if h := o.hits.Load(); h != 2 {
		t.Fatalf("%d fetches after ErrorTTL, want 2", h)
	}
}

func TestCacheBoundedEntries(t *testing.T) {
	o := newOrigin(t, maxAge)
	c, clk := newCache(t, o, fetcher.CacheConfig{MaxEntries: 3})
	url := func(i int) string { return fmt.Sprintf("%s/%d", o.URL, 600+i) }
	for i := range 10 {
		clk.advance(time.Second) // later fetches expire later
		if _, err := c.Get(bg, url(i), ""); err != nil {
			t.Fatal(err)
		}
		if n := fetcher.CacheLen(c); n > 3 {
			t.Fatalf("%d entries, want at most 3", n)
		}
	}
	hits := o.hits.Load()
	c.Get(bg, url(9), "")
	if o.hits.Load() != hits {
		t.Fatal("the newest entry was evicted")
	}
	c.Get(bg, url(0), "")
	if o.hits.Load() != hits+1 {
		t.Fatal("the oldest entry was kept past MaxEntries")
	}
}
