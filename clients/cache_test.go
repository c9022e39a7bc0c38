package clients_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"authserver/clients"
	redisstore "authserver/store/redis"
	"authserver/store/redistest"
)

// countingHook counts the commands a client sends.
type countingHook struct{ n atomic.Int64 }

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// node is one server's view: a Redis store, a cache with its subscription
// running, and a command counter.
type cacheNode struct {
	reg   *clients.Registry
	hook  *countingHook
	cache *clients.CachedStore
}

func startCacheNode(t *testing.T, srv *redistest.Server) cacheNode {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	hook := &countingHook{}
	rdb.AddHook(hook)
	st := redisstore.New(rdb, "cache-test:")
	t.Cleanup(func() { st.Close() })
	cache := clients.NewCachedStore(st, st, time.Hour, slog.Default()) // an hour: only announcements can make it notice
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cache.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return cacheNode{reg: clients.NewRegistry(cache, nil), hook: hook, cache: cache}
}

func TestCachedClientsStopAtOnceEverywhere(t *testing.T) {
	srv := redistest.StartStandalone(t)
	a, b := startCacheNode(t, srv), startCacheNode(t, srv)
	ctx := context.Background()
	time.Sleep(100 * time.Millisecond) // let both subscriptions start

	c, secret, err := a.reg.Create(ctx, clients.Registration{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the creation's own announcement may still be on its way
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	// Warm: authenticating again sends no command at all.
	before := b.hook.n.Load()
	for range 100 {
		if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
			t.Fatal(err)
		}
	}
	if sent := b.hook.n.Load() - before; sent != 0 {
		t.Fatalf("a warm client authentication sent %d Redis commands", sent)
	}

	// Disabled on node a: node b refuses it at once, not after the TTL.
	if _, err := a.reg.SetDisabled(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := b.reg.Authenticate(ctx, c.ID, secret)
		return errors.Is(err, clients.ErrAuthenticationFailed)
	})
	// Rotated on node b without overlap: node a refuses the old secret.
	if _, err := b.reg.SetDisabled(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	_, next, err := b.reg.RotateSecret(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, oldErr := a.reg.Authenticate(ctx, c.ID, secret)
		_, newErr := a.reg.Authenticate(ctx, c.ID, next)
		return oldErr != nil && newErr == nil
	})
	// Deleted: gone everywhere.
	if err := a.reg.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := b.reg.Authenticate(ctx, c.ID, next)
		return err != nil
	})
}

// A node whose subscription drops forgets everything it cached, since it
// may have missed announcements meanwhile.
func TestCachedClientsResetOnReconnect(t *testing.T) {
	srv := redistest.StartStandalone(t)
	a, b := startCacheNode(t, srv), startCacheNode(t, srv)
	ctx := context.Background()
	time.Sleep(100 * time.Millisecond)
	c, secret, err := a.reg.Create(ctx, clients.Registration{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	// Kill node b's pub/sub connection, then change the client behind its
	// back (no announcement reaches b while it is disconnected).
	rc := srv.Client(t)
	if err := rc.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	stored, _ := a.cache.Store.GetClient(ctx, c.ID)
	stored.Disabled = true
	if err := a.cache.Store.UpdateClient(ctx, stored); err != nil { // the raw store: no announcement
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := b.reg.Authenticate(ctx, c.ID, secret)
		return errors.Is(err, clients.ErrAuthenticationFailed)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
