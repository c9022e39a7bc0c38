package ratelimit_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/ratelimit"
	"authserver/store/embedded"
)

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// count reads a counter without changing it.
func count(t *testing.T, st ratelimit.Store, key string) int64 {
	t.Helper()
	_, n, _, err := st.Reserve(t.Context(), key, 0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFail(t *testing.T) {
	st := openStore(t)
	l := ratelimit.New(st)
	ctx := t.Context()
	// A window far longer than the test: the limit is checked inside one
	// window however slow the machine.
	p := ratelimit.Policy{Max: 3, Window: time.Hour}
	var limited *ratelimit.LimitedError
	for i := range 3 {
		if err := l.Fail(ctx, "k", p); err != nil {
			t.Fatalf("failure %d within the limit: %v", i, err)
		}
	}
	if err := l.Fail(ctx, "k", p); !errors.As(err, &limited) || limited.RetryAfterSeconds() < 1 {
		t.Fatalf("a failure over the limit: %v", err)
	}
	// A window ends: the sleep is only ever longer than asked, so the
	// second failure always falls in a new window.
	short := ratelimit.Policy{Max: 1, Window: 100 * time.Millisecond}
	if err := l.Fail(ctx, "short", short); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * short.Window)
	if err := l.Fail(ctx, "short", short); err != nil {
		t.Fatalf("the window should have ended: %v", err)
	}
	if err := l.Fail(ctx, "k", ratelimit.Policy{}); err != nil {
		t.Fatal("a zero policy is off")
	}
}

// writeCounting counts the writes a success makes.
type writeCounting struct {
	ratelimit.Store
	resets, releases atomic.Int32
	failReserve      error
}

func (w *writeCounting) ResetFailures(ctx context.Context, key string) error {
	w.resets.Add(1)
	return w.Store.ResetFailures(ctx, key)
}

func (w *writeCounting) Release(ctx context.Context, key string) error {
	w.releases.Add(1)
	return w.Store.Release(ctx, key)
}

func (w *writeCounting) Reserve(ctx context.Context, key string, max int64, window time.Duration) (bool, int64, time.Duration, error) {
	if w.failReserve != nil && key != "user" {
		return false, 0, 0, w.failReserve
	}
	return w.Store.Reserve(ctx, key, max, window)
}

func TestGuard(t *testing.T) {
	st := openStore(t)
	counting := &writeCounting{Store: st}
	l := ratelimit.New(counting)
	ctx := t.Context()
	counters := []ratelimit.Counter{
		{Name: "per_user", Key: "user", Policy: ratelimit.Policy{Max: 2, Window: time.Minute}, ResetOnSuccess: true},
		{Name: "per_ip", Key: "ip", Policy: ratelimit.Policy{Max: 10, Window: time.Minute}},
	}
	run := func(ok bool) (ran bool, err error) {
		err = l.Guard(ctx, counters, func() (bool, error) { ran = true; return ok, nil })
		return ran, err
	}

	// A failure keeps its reservation on every counter.
	if _, err := run(false); err != nil {
		t.Fatal(err)
	}
	if u, ip := count(t, st, "user"), count(t, st, "ip"); u != 1 || ip != 1 {
		t.Fatalf("after a failure: user %d, ip %d; want 1, 1", u, ip)
	}
	// A success resets the per-user counter and gives the per-ip slot back.
	if _, err := run(true); err != nil {
		t.Fatal(err)
	}
	if u, ip := count(t, st, "user"), count(t, st, "ip"); u != 0 || ip != 1 {
		t.Fatalf("after a success: user %d, ip %d; want 0, 1 (a success is not a failure)", u, ip)
	}
	if counting.resets.Load() != 1 || counting.releases.Load() != 1 {
		t.Fatalf("a success wrote %d resets, %d releases; want 1, 1", counting.resets.Load(), counting.releases.Load())
	}
	// Over the limit the attempt never runs, the refusal names the limit,
	// and the slot the earlier counter reserved is given back.
	run(false)
	run(false)
	counters[0], counters[1] = counters[1], counters[0] // per_ip first, so it reserves before per_user refuses
	ran, err := run(true)
	var limited *ratelimit.LimitedError
	if ran || !errors.As(err, &limited) || limited.Limit != "per_user" || limited.RetryAfterSeconds() < 1 {
		t.Fatalf("over the limit: ran=%v err=%v", ran, err)
	}
	if ip := count(t, st, "ip"); ip != 3 {
		t.Fatalf("per-ip count %d after a refused attempt, want 3 (its reservation given back)", ip)
	}

	// An attempt that errs reached no verdict: nothing is counted.
	boom := errors.New("store down")
	err = l.Guard(ctx, []ratelimit.Counter{{Name: "x", Key: "err", Policy: ratelimit.Policy{Max: 5, Window: time.Minute}}},
		func() (bool, error) { return false, boom })
	if !errors.Is(err, boom) || count(t, st, "err") != 0 {
		t.Fatalf("erring attempt: %v, count %d", err, count(t, st, "err"))
	}

	// A store that cannot reserve fails closed: the attempt does not run.
	counting.failReserve = boom
	ran = false
	err = l.Guard(ctx, []ratelimit.Counter{
		{Name: "per_user", Key: "user", Policy: ratelimit.Policy{Max: 5, Window: time.Minute}},
		{Name: "other", Key: "other", Policy: ratelimit.Policy{Max: 5, Window: time.Minute}},
	}, func() (bool, error) { ran = true; return true, nil })
	if ran || !errors.Is(err, boom) {
		t.Fatalf("store down: ran=%v err=%v; want refused with the store's error", ran, err)
	}
}

// However many attempts arrive at once, at most Max run: the attempts are
// held until every refusal is in, so no check finishes before all
// attempts have reserved (the window a read-then-write limiter leaves
// open).
func TestGuardConcurrent(t *testing.T) {
	st := openStore(t)
	l := ratelimit.New(st)
	const n, max = 50, 5
	counters := []ratelimit.Counter{{Name: "per_user", Key: "user", Policy: ratelimit.Policy{Max: max, Window: time.Minute}, ResetOnSuccess: true}}
	var ran, refused atomic.Int32
	allIn := make(chan struct{})
	var closeOnce sync.Once
	arrived := func() {
		if ran.Load()+refused.Load() == n {
			closeOnce.Do(func() { close(allIn) })
		}
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := l.Guard(t.Context(), counters, func() (bool, error) {
				ran.Add(1)
				arrived()
				select {
				case <-allIn:
				case <-time.After(2 * time.Second): // more than max ran: the counts tell
				}
				return false, nil
			})
			var limited *ratelimit.LimitedError
			if errors.As(err, &limited) {
				refused.Add(1)
				arrived()
			} else if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ran.Load() != max || refused.Load() != n-max {
		t.Fatalf("%d concurrent attempts with max %d: %d ran, %d refused", n, max, ran.Load(), refused.Load())
	}
	if c := count(t, st, "user"); c != max {
		t.Fatalf("count %d after %d failures", c, max)
	}
}

// One source holds at most InFlight attempts at a time; over it the attempt
// is refused at once and no counter is touched.
func TestGuardInFlight(t *testing.T) {
	st := openStore(t)
	l := ratelimit.New(st)
	counters := func(source string) []ratelimit.Counter {
		return []ratelimit.Counter{
			{Name: "in_flight", Key: "source:" + source, InFlight: 2},
			{Name: "per_user", Key: "user:" + source, Policy: ratelimit.Policy{Max: 100, Window: time.Minute}},
		}
	}
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- l.Guard(t.Context(), counters("a"), func() (bool, error) {
				entered <- struct{}{}
				<-release
				return false, nil
			})
		}()
	}
	<-entered
	<-entered
	ran := false
	err := l.Guard(t.Context(), counters("a"), func() (bool, error) { ran = true; return false, nil })
	var limited *ratelimit.LimitedError
	if ran || !errors.As(err, &limited) || limited.Limit != "in_flight" || limited.RetryAfterSeconds() < 1 {
		t.Fatalf("third attempt of one source: ran=%v err=%v; want refused at once", ran, err)
	}
	if c := count(t, st, "user:a"); c != 2 {
		t.Fatalf("count %d, want 2: the refused attempt must not count", c)
	}
	// Another source is not held up.
	if err := l.Guard(t.Context(), counters("b"), func() (bool, error) { return true, nil }); err != nil {
		t.Fatalf("another source: %v", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Guard(t.Context(), counters("a"), func() (bool, error) { return true, nil }); err != nil {
		t.Fatalf("after the first two finished: %v", err)
	}
}
