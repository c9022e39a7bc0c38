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
		ok, n, left, err := b.Reserve(t.Context(), randID("rl"), 0, time.Minute)
		if err != nil || ok || n != 0 || left != 0 {
			t.Fatalf("Reserve(unknown, max 0) = %v, %d, %v, %v; want false, 0, 0, nil", ok, n, left, err)
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
		n, left, err := peek(t, b, key)
		if err != nil || n != 3 || left <= 0 || left > window {
			t.Fatalf("count = %d, %v, %v; want 3, (0, %v], nil", n, left, err, window)
		}
		if n, _, err := b.AddFailure(ctx, other, window); err != nil || n != 1 {
			t.Fatalf("AddFailure on another key = %d, %v; want 1 (keys are separate)", n, err)
		}
		if n, _, _ := peek(t, b, key); n != 3 {
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
		n, left, err := peek(t, b, key)
		if err != nil || n != 0 || left != 0 {
			t.Fatalf("count after reset = %d, %v, %v; want 0, 0, nil", n, left, err)
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
		if c, _, _ := peek(t, b, key); c != n {
			t.Fatalf("count after %d concurrent adds = %d", n, c)
		}
	})

	t.Run("Reserve", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		key := randID("rl")
		const window = time.Minute
		for i := int64(1); i <= 3; i++ {
			ok, n, left, err := b.Reserve(ctx, key, 3, window)
			if err != nil || !ok || n != i || left <= 0 || left > window {
				t.Fatalf("Reserve #%d = %v, %d, %v, %v; want true, %d, (0, %v], nil", i, ok, n, left, err, i, window)
			}
		}
		// At max: refused, and the refusal is not counted.
		for range 2 {
			ok, n, left, err := b.Reserve(ctx, key, 3, window)
			if err != nil || ok || n != 3 || left <= 0 || left > window {
				t.Fatalf("Reserve at max = %v, %d, %v, %v; want false, 3, (0, %v], nil", ok, n, left, err, window)
			}
		}
		if err := b.Release(ctx, key); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if n, _, _ := peek(t, b, key); n != 2 {
			t.Fatalf("count after a release = %d, want 2", n)
		}
		if ok, n, _, err := b.Reserve(ctx, key, 3, window); err != nil || !ok || n != 3 {
			t.Fatalf("Reserve after a release = %v, %d, %v; want the slot back", ok, n, err)
		}
		// A higher max on the same key takes more: the max is the caller's.
		if ok, n, _, err := b.Reserve(ctx, key, 4, window); err != nil || !ok || n != 4 {
			t.Fatalf("Reserve with max 4 = %v, %d, %v; want true, 4", ok, n, err)
		}

		// Release never goes below zero, nor creates a count.
		other := randID("rl")
		if err := b.Release(ctx, other); err != nil {
			t.Fatalf("Release(unknown): %v", err)
		}
		b.Reserve(ctx, other, 5, window)
		b.Release(ctx, other)
		b.Release(ctx, other)
		if ok, n, _, err := b.Reserve(ctx, other, 5, window); err != nil || !ok || n != 1 {
			t.Fatalf("Reserve after releasing more than was taken = %v, %d, %v; want true, 1", ok, n, err)
		}
		// Reserve and AddFailure count on the same counter.
		if n, _, err := b.AddFailure(ctx, other, window); err != nil || n != 2 {
			t.Fatalf("AddFailure after a reservation = %d, %v; want 2", n, err)
		}
	})

	t.Run("ReserveWindow", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		key := randID("rl")
		// Refusal at max inside a window is ConcurrentReserve's and
		// Reserve's (long windows); here only that a window ends, which a
		// sleep longer than it always shows.
		if ok, _, _, err := b.Reserve(ctx, key, 1, shortTTL); err != nil || !ok {
			t.Fatalf("Reserve: %v, %v", ok, err)
		}
		time.Sleep(expiryWait)
		if ok, n, _, err := b.Reserve(ctx, key, 1, shortTTL); err != nil || !ok || n != 1 {
			t.Fatalf("Reserve after the window = %v, %d, %v; want a fresh window", ok, n, err)
		}
	})

	t.Run("ConcurrentReserve", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// The check and the increment are one step: however many callers
		// race, exactly max of them get a slot.
		const n, max = 50, 5
		key := randID("rl")
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			oks    [n]bool
			counts [n]int64
			errs   [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-start
				oks[i], counts[i], _, errs[i] = b.Reserve(ctx, key, max, time.Minute)
			})
		}
		close(start)
		wg.Wait()
		var taken []int64
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Reserve: %v", errs[i])
			}
			if oks[i] {
				taken = append(taken, counts[i])
			} else if counts[i] != max {
				t.Fatalf("a refused Reserve saw count %d, want %d", counts[i], max)
			}
		}
		slices.Sort(taken)
		if !slices.Equal(taken, []int64{1, 2, 3, 4, 5}) {
			t.Fatalf("%d concurrent Reserve with max %d: the winners saw counts %v, want 1..%d once each", n, max, taken, max)
		}
		if c, _, _ := peek(t, b, key); c != max {
			t.Fatalf("count after the race = %d, want %d", c, max)
		}
	})
}

// peek reads a counter: a Reserve with max 0 refuses and changes nothing.
func peek(t *testing.T, b store.Backend, key string) (int64, time.Duration, error) {
	t.Helper()
	ok, n, left, err := b.Reserve(t.Context(), key, 0, time.Minute)
	if ok {
		t.Fatalf("Reserve with max 0 took a slot on %s", key)
	}
	return n, left, err
}
