package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"authserver/store"
)

func testRateLimit(t *testing.T, b store.Backend) {
	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		n, left, err := b.Failures(t.Context(), randID("rl"))
		if err != nil || n != 0 || left != 0 {
			t.Fatalf("Failures(unknown) = %d, %v, %v; want 0, 0, nil", n, left, err)
		}
	})

	t.Run("Count", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		key, other := randID("rl"), randID("rl")
		const window = time.Minute
		const pause = 100 * time.Millisecond
		var lastLeft time.Duration
		for i := int64(1); i <= 3; i++ {
			n, left, err := b.AddFailure(ctx, key, window)
			if err != nil {
				t.Fatalf("AddFailure: %v", err)
			}
			if n != i {
				t.Fatalf("AddFailure #%d returned count %d", i, n)
			}
			if left <= 0 || left > window {
				t.Fatalf("AddFailure #%d: time left %v, want in (0, %v]", i, left, window)
			}
			// The window is fixed: a later failure does not extend it, so
			// at least the pause has come off the time left (a slow
			// machine only takes off more; 5ms allows for rounding).
			if i > 1 && left > lastLeft-pause+5*time.Millisecond {
				t.Fatalf("AddFailure #%d: %v left, %v after the previous one and a %v pause: the window moved",
					i, left, lastLeft, pause)
			}
			lastLeft = left
			time.Sleep(pause)
		}
		n, left, err := b.Failures(ctx, key)
		if err != nil || n != 3 || left <= 0 || left > window {
			t.Fatalf("Failures = %d, %v, %v; want 3, (0, %v], nil", n, left, err, window)
		}
		if n, _, err := b.AddFailure(ctx, other, window); err != nil || n != 1 {
			t.Fatalf("AddFailure on another key = %d, %v; want 1 (keys are separate)", n, err)
		}
		if n, _, _ := b.Failures(ctx, key); n != 3 {
			t.Fatalf("another key's failure changed the count to %d", n)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		key := randID("rl")
		for range 2 {
			if _, _, err := b.AddFailure(ctx, key, time.Minute); err != nil {
				t.Fatalf("AddFailure: %v", err)
			}
		}
		if err := b.ResetFailures(ctx, key); err != nil {
			t.Fatalf("ResetFailures: %v", err)
		}
		n, left, err := b.Failures(ctx, key)
		if err != nil || n != 0 || left != 0 {
			t.Fatalf("Failures after reset = %d, %v, %v; want 0, 0, nil", n, left, err)
		}
		if n, _, err := b.AddFailure(ctx, key, time.Minute); err != nil || n != 1 {
			t.Fatalf("AddFailure after reset = %d, %v; want 1", n, err)
		}
		if err := b.ResetFailures(ctx, randID("rl")); err != nil {
			t.Fatalf("ResetFailures(unknown): %v", err)
		}
	})

	t.Run("ConcurrentAdds", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// Each increment is one atomic step: concurrent callers see every
		// count from 1 to n exactly once.
		const n = 50
		key := randID("rl")
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			counts [n]int64
			errs   [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				counts[i], _, errs[i] = b.AddFailure(ctx, key, time.Minute)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("AddFailure: %v", err)
			}
		}
		got := counts[:]
		slices.Sort(got)
		for i, c := range got {
			if c != int64(i+1) {
				t.Fatalf("concurrent AddFailure counts %v: want each of 1..%d once", got, n)
			}
		}
		if c, _, _ := b.Failures(ctx, key); c != n {
			t.Fatalf("Failures after %d concurrent adds = %d", n, c)
		}
	})
}
