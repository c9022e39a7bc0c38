package redisstore

import (
	"context"
	"testing"
	"time"

	"authserver/store/redistest"
	"authserver/store/storetest"
)

// TestOutage: once the server is gone, every call fails as
// store.ErrUnavailable in bounded time; once it is back, the same Store
// answers again without being rebuilt.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.StartStandalone(t)
	st := openStore(t, Options{URL: srv.URL(), KeyPrefix: randPrefix()})
	srv.Kill()
	storetest.Outage(t, st)

	if err := srv.Restart(t); err != nil {
		t.Fatal(err)
	}
	// Bounded in tries and time: 100 tries 50 ms apart, each at most 1 s.
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = st.Ping(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Ping after Redis came back: %v", err)
	}
}
