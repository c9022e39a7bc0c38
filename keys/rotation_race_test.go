package keys_test

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/keys"
	"authserver/store/embedded"
	redisstore "authserver/store/redis"
	"authserver/store/redistest"
)

// Nodes racing for one scheduled rotation, on a real store: every period
// exactly one of them adds a key, and they all end up signing with it.
func TestScheduledRotationOneWinnerEmbedded(t *testing.T) {
	st, err := embedded.Open(filepath.Join(t.TempDir(), "authserver.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// One process holds the file: its nodes are managers sharing the store.
	raceScheduledRotation(t, func(int) keys.Store { return st })
}

func TestScheduledRotationOneWinnerRedis(t *testing.T) {
	srv := redistest.StartStandalone(t)
	// Each node has its own connection, as separate processes would.
	raceScheduledRotation(t, func(int) keys.Store {
		st, err := redisstore.Open(t.Context(), redisstore.Options{URL: srv.URL(), KeyPrefix: "race:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func raceScheduledRotation(t *testing.T, storeFor func(node int) keys.Store) {
	const nodes = 8
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Millisecond)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	settings := keys.Settings{PublishAhead: 6 * time.Minute, TokenLifetime: 15 * time.Minute, RetireMargin: 2 * time.Minute, RotateEvery: time.Hour}
	ms := make([]*keys.Manager, nodes)
	stores := make([]keys.Store, nodes)
	for i := range ms {
		stores[i] = storeFor(i)
		m, err := keys.NewManager(stores[i], bytes.Repeat([]byte{7}, 32), keys.ES256, settings)
		if err != nil {
			t.Fatal(err)
		}
		m.SetClock(clock)
		if err := m.Init(ctx); err != nil {
			t.Fatal(err)
		}
		ms[i] = m
	}
	first := ms[0].SigningKey().ID
	for period := 1; period <= 3; period++ {
		advance(54 * time.Minute) // due: publish_ahead before the hour is up
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			winners atomic.Int32
			added   = make([]string, nodes)
		)
		for i, m := range ms {
			wg.Go(func() {
				<-start
				k, rotated, err := m.RotateIfDue(ctx)
				if err != nil {
					t.Errorf("node %d: %v", i, err)
				}
				if rotated {
					winners.Add(1)
					added[i] = k.ID
				}
			})
		}
		close(start)
		wg.Wait()
		if n := winners.Load(); n != 1 {
			t.Fatalf("period %d: %d nodes rotated, want exactly 1", period, n)
		}
		var kid string
		for _, a := range added {
			kid += a
		}
		list, err := stores[0].ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != period+1 || list[len(list)-1].ID != kid {
			t.Fatalf("period %d: store holds %d keys (newest %s), want %d ending with %s", period, len(list), list[len(list)-1].ID, period+1, kid)
		}
		advance(6 * time.Minute)
		for i, m := range ms {
			if err := m.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if got := m.SigningKey().ID; got != kid {
				t.Fatalf("period %d: node %d signs with %s, want %s", period, i, got, kid)
			}
		}
	}
	if ms[0].SigningKey().ID == first {
		t.Fatal("never rotated")
	}
}
