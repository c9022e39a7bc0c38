package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/store"
)

// testRememberOnce: a key is fresh once until it expires, keys do not
// share a record, and of many concurrent callers with one key exactly one
// is told it is fresh.
func testRememberOnce(t *testing.T, b store.Backend) {
	ctx := t.Context()
	t.Run("OnceUntilExpiry", func(t *testing.T) {
		t.Parallel()
		key := randID("once")
		start := time.Now()
		until := start.Add(shortTTL)
		if fresh, err := b.RememberOnce(ctx, key, until); err != nil || !fresh {
			t.Fatalf("first RememberOnce = %v, %v; want true, nil", fresh, err)
		}
		liveCheck(start, shortTTL, func() {
			if fresh, err := b.RememberOnce(ctx, key, until); err != nil || fresh {
				t.Fatalf("second RememberOnce before expiry = %v, %v; want false, nil", fresh, err)
			}
		})
		time.Sleep(time.Until(start.Add(expiryWait)))
		if fresh, err := b.RememberOnce(ctx, key, time.Now().Add(time.Minute)); err != nil || !fresh {
			t.Fatalf("RememberOnce after expiry = %v, %v; want true, nil", fresh, err)
		}
		if fresh, err := b.RememberOnce(ctx, key, time.Now().Add(time.Minute)); err != nil || fresh {
			t.Fatalf("RememberOnce after it was remembered again = %v, %v; want false, nil", fresh, err)
		}
	})
	t.Run("KeysIndependent", func(t *testing.T) {
		t.Parallel()
		a, other := randID("once"), randID("once")
		until := time.Now().Add(time.Minute)
		for _, k := range []string{a, other} {
			if fresh, err := b.RememberOnce(ctx, k, until); err != nil || !fresh {
				t.Fatalf("RememberOnce(%q) = %v, %v; want true, nil", k, fresh, err)
			}
		}
		// Keys that differ only past a prefix, or as raw bytes, stay apart.
		for _, k := range []string{a + "x", a[:len(a)-1], a + "\x00", ""} {
			if fresh, err := b.RememberOnce(ctx, k+randID(""), until); err != nil || !fresh {
				t.Fatalf("RememberOnce(%q...) = %v, %v; want true, nil", k, fresh, err)
			}
		}
		if fresh, err := b.RememberOnce(ctx, a, until); err != nil || fresh {
			t.Fatalf("RememberOnce(%q) again = %v, %v; want false, nil", a, fresh, err)
		}
	})
	t.Run("Race", func(t *testing.T) {
		t.Parallel()
		key := randID("once")
		until := time.Now().Add(time.Minute)
		const n = 100
		var wins, errs atomic.Int32
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-gate
				fresh, err := b.RememberOnce(ctx, key, until)
				if err != nil {
					errs.Add(1)
				}
				if fresh {
					wins.Add(1)
				}
			})
		}
		close(gate)
		wg.Wait()
		if errs.Load() != 0 || wins.Load() != 1 {
			t.Fatalf("%d concurrent RememberOnce of one key: %d fresh, %d errors; want exactly 1 fresh, 0 errors", n, wins.Load(), errs.Load())
		}
	})
}
