package dpop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// manualClock is a clock tests move by hand.
type manualClock struct{ now atomic.Int64 }

func (c *manualClock) Now() time.Time      { return time.Unix(0, c.now.Load()) }
func (c *manualClock) Add(d time.Duration) { c.now.Add(int64(d)) }
func newManualClock(t time.Time) *manualClock {
	c := &manualClock{}
	c.now.Store(t.UnixNano())
	return c
}

func TestMemoryReplayCacheRemembersUntilExpiry(t *testing.T) {
	ctx := context.Background()
	clock := newManualClock(testNow)
	c := NewMemoryReplayCache(10)
	c.Now = clock.Now
	expiry := testNow.Add(time.Minute)

	if fresh, err := c.Remember(ctx, "a", expiry); !fresh || err != nil {
		t.Fatalf("first: %v, %v", fresh, err)
	}
	if fresh, _ := c.Remember(ctx, "a", expiry); fresh {
		t.Fatal("second Remember of a key reported it fresh")
	}
	if fresh, _ := c.Remember(ctx, "b", expiry); !fresh {
		t.Fatal("another key was taken for a replay")
	}
	clock.Add(time.Minute - time.Nanosecond)
	if fresh, _ := c.Remember(ctx, "a", expiry); fresh {
		t.Fatal("key forgotten before its expiry")
	}
	clock.Add(time.Nanosecond)
	if fresh, _ := c.Remember(ctx, "a", expiry.Add(time.Minute)); !fresh {
		t.Fatal("key still remembered at its expiry")
	}
	if c.Len() != 1 {
		t.Fatalf("cache holds %d entries, want 1 (b expired)", c.Len())
	}
}

func TestMemoryReplayCacheBounded(t *testing.T) {
	ctx := context.Background()
	clock := newManualClock(testNow)
	c := NewMemoryReplayCache(3)
	c.Now = clock.Now
	for i, key := range []string{"a", "b", "c"} {
		// Expiries out of order: the queue must still drop the soonest.
		expiry := testNow.Add(time.Duration(3-i) * time.Second)
		if fresh, err := c.Remember(ctx, key, expiry); !fresh || err != nil {
			t.Fatalf("%s: %v, %v", key, fresh, err)
		}
	}
	if _, err := c.Remember(ctx, "d", testNow.Add(time.Minute)); !errors.Is(err, ErrReplayCacheFull) {
		t.Fatalf("full cache: error %v, want ErrReplayCacheFull", err)
	}
	// "a" is still remembered: the cache refuses rather than forget it.
	if fresh, _ := c.Remember(ctx, "a", testNow.Add(time.Minute)); fresh {
		t.Fatal("full cache forgot an entry")
	}
	clock.Add(time.Second) // c expires
	if fresh, err := c.Remember(ctx, "d", testNow.Add(time.Minute)); !fresh || err != nil {
		t.Fatalf("after an expiry: %v, %v", fresh, err)
	}
	if fresh, _ := c.Remember(ctx, "a", testNow.Add(time.Minute)); fresh {
		t.Fatal("a was dropped instead of the expired c")
	}
}

func TestMemoryReplayCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryReplayCache(1000)
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			ok, err := c.Remember(ctx, "same", time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d callers got the key fresh, want 1", fresh.Load())
	}
}
