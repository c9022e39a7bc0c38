package ratelimit_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"authserver/ratelimit"
	"authserver/store/embedded"
)

func TestLimiter(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := ratelimit.New(st)
	ctx := context.Background()
	p := ratelimit.Policy{Max: 3, Window: 400 * time.Millisecond}
	var limited *ratelimit.LimitedError

	for i := range 3 {
		if err := l.Check(ctx, "k", p); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
		if err := l.Fail(ctx, "k", p); err != nil {
			t.Fatalf("failure %d within the limit: %v", i, err)
		}
	}
	if err := l.Check(ctx, "k", p); !errors.As(err, &limited) || limited.RetryAfterSeconds() < 1 {
		t.Fatalf("over the limit: %v", err)
	}
	if err := l.Fail(ctx, "k", p); !errors.As(err, &limited) {
		t.Fatalf("a failure over the limit: %v", err)
	}
	if err := l.Check(ctx, "other", p); err != nil {
		t.Fatal("keys are independent")
	}
	time.Sleep(500 * time.Millisecond)
	if err := l.Check(ctx, "k", p); err != nil {
		t.Fatalf("the window should have ended: %v", err)
	}
	l.Fail(ctx, "k", p)
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := st.Failures(ctx, "k"); n != 0 {
		t.Fatalf("reset left %d", n)
	}
	if err := l.Fail(ctx, "k", ratelimit.Policy{}); err != nil {
		t.Fatal("a zero policy is off")
	}
}

// resetCounting counts the writes a success makes.
type resetCounting struct {
	ratelimit.Store
	resets int
}

func (r *resetCounting) ResetFailures(ctx context.Context, key string) error {
	r.resets++
	return r.Store.ResetFailures(ctx, key)
}

func TestGuard(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	counting := &resetCounting{Store: st}
	l := ratelimit.New(counting)
	ctx := context.Background()
	p := ratelimit.Policy{Max: 2, Window: time.Minute}
	counters := []ratelimit.Counter{
		{Name: "per_user", Key: "user", Policy: p, ResetOnSuccess: true},
		{Name: "per_ip", Key: "ip", Policy: ratelimit.Policy{Max: 10, Window: time.Minute}},
	}
	run := func(ok bool) (ran bool, err error) {
		err = l.Guard(ctx, counters, func() (bool, error) { ran = true; return ok, nil })
		return ran, err
	}

	// A success with nothing counted writes nothing.
	if _, err := run(true); err != nil || counting.resets != 0 {
		t.Fatalf("success: %v, %d resets", err, counting.resets)
	}
	// A failure counts on every counter; a success then clears only the
	// per-user one.
	run(false)
	if _, err := run(true); err != nil || counting.resets != 1 {
		t.Fatalf("success after a failure: %v, %d resets", err, counting.resets)
	}
	if n, _, _ := st.Failures(ctx, "user"); n != 0 {
		t.Fatalf("per-user count %d after a success", n)
	}
	if n, _, _ := st.Failures(ctx, "ip"); n != 1 {
		t.Fatalf("per-ip count %d, want 1 (a success does not clear it)", n)
	}
	// Over the limit the attempt never runs, and the refusal names the limit.
	run(false)
	run(false)
	ran, err := run(true)
	var limited *ratelimit.LimitedError
	if ran || !errors.As(err, &limited) || limited.Limit != "per_user" || limited.RetryAfterSeconds() < 1 {
		t.Fatalf("over the limit: ran=%v err=%v", ran, err)
	}
}
