//go:build unix

package redisstore

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"authserver/store"
	"authserver/store/redistest"
)

// TestOutageStalled: a server that accepts nothing more (SIGSTOP: the
// connections stay open, no reply comes) fails a call within its
// context's deadline, or within opTimeout when the context has none.
func TestOutageStalled(t *testing.T) {
	t.Parallel()
	srv := redistest.StartStandalone(t)
	st := openStore(t, Options{URL: srv.URL(), KeyPrefix: randPrefix()})
	if err := st.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(srv.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(srv.PID(), syscall.SIGCONT) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := st.Ping(ctx)
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Ping with a 1 s deadline took %v", took)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping of a stalled server: %v, want store.ErrUnavailable", err)
	}
	start = time.Now()
	_, err = st.GetClient(context.Background(), "any")
	if took := time.Since(start); took > opTimeout+time.Second {
		t.Errorf("GetClient without a deadline took %v, want about %v", took, opTimeout)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetClient of a stalled server: %v, want store.ErrUnavailable", err)
	}
}
