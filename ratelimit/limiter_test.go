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
