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

// watchedChanges passes a node's announcements through and tells the test
// when each was handled: resets on every (re)subscription, which is also
// the sign that the subscription is live, and changes with the id, after
// the cache has dropped it.
type watchedChanges struct {
	clients.Changes
	resets  chan struct{}
	changes chan string
}

func (w *watchedChanges) SubscribeChanges(ctx context.Context, onChange func(string), onReset func()) error {
	return w.Changes.SubscribeChanges(ctx,
		func(id string) {
			onChange(id)
			select { // never block the subscriber; a lost signal fails a wait, it cannot hang
			case w.changes <- id:
			default:
			}
		},
		func() {
			onReset()
			select {
			case w.resets <- struct{}{}:
			default:
			}
		})
}

// cacheNode is one server's view: a Redis store, a cache with its
// subscription running, and a command counter.
type cacheNode struct {
	reg     *clients.Registry
	hook    *countingHook
	cache   *clients.CachedStore
	watched *watchedChanges
}

// signalWait bounds every wait for a pub/sub event; generous, since a
// loaded machine may be slow, and a wait ends as soon as the event comes.
const signalWait = 10 * time.Second

func startCacheNode(t *testing.T, srv *redistest.Server) cacheNode {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	hook := &countingHook{}
	rdb.AddHook(hook)
	st := redisstore.New(rdb, "cache-test:")
	t.Cleanup(func() { st.Close() })
	// Buffers far above what a test sends, so the subscriber never blocks.
	w := &watchedChanges{Changes: st, resets: make(chan struct{}, 64), changes: make(chan string, 64)}
	cache := clients.NewCachedStore(st, w, time.Hour, slog.Default()) // an hour: only announcements can make it notice
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cache.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache.Run: %v", err)
		}
	})
	n := cacheNode{reg: clients.NewRegistry(cache, nil), hook: hook, cache: cache, watched: w}
	n.awaitReset(t) // subscribed: from here on no announcement is missed
	return n
}

// awaitReset waits until the node's cache has been reset by a
// (re)subscription or a lost connection.
func (n cacheNode) awaitReset(t *testing.T) {
	t.Helper()
	select {
	case <-n.watched.resets:
	case <-time.After(signalWait):
		t.Fatalf("no subscription (reset) within %v", signalWait)
	}
}

// awaitChange waits for the node's next announcement and checks it names
// id. Every write publishes once and pub/sub keeps the order, so a test
// that awaits each write on each node stays in step.
func (n cacheNode) awaitChange(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-n.watched.changes:
		if got != id {
			t.Fatalf("announcement for %q, want %q", got, id)
		}
	case <-time.After(signalWait):
		t.Fatalf("no announcement for %q within %v", id, signalWait)
	}
}

// announced waits until every node has handled the announcement of one
// write to id.
func announced(t *testing.T, id string, nodes ...cacheNode) {
	t.Helper()
	for _, n := range nodes {
		n.awaitChange(t, id)
	}
}

func TestCachedClientsStopAtOnceEverywhere(t *testing.T) {
	srv := redistest.StartStandalone(t)
	a, b := startCacheNode(t, srv), startCacheNode(t, srv)
	ctx := context.Background()

	c, secret, err := a.reg.Create(ctx, clients.Registration{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	// The creation's own announcement drops what b just cached; once it is
	// handled, b caches the record for good.
	announced(t, c.ID, a, b)
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

	// Disabled on node a: node b refuses it as soon as the announcement
	// arrives, not after the TTL.
	if _, err := a.reg.SetDisabled(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	announced(t, c.ID, a, b)
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("node b authenticates a client disabled on node a: %v", err)
	}
	// Rotated on node b without overlap: node a refuses the old secret.
	if _, err := b.reg.SetDisabled(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	announced(t, c.ID, a, b)
	_, next, err := b.reg.RotateSecret(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	announced(t, c.ID, a, b)
	if _, err := a.reg.Authenticate(ctx, c.ID, secret); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("node a takes the secret rotated away on node b: %v", err)
	}
	if _, err := a.reg.Authenticate(ctx, c.ID, next); err != nil {
		t.Fatalf("node a refuses the new secret: %v", err)
	}
	// Deleted: gone everywhere.
	if err := a.reg.Delete(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	announced(t, c.ID, a, b)
	if _, err := b.reg.Authenticate(ctx, c.ID, next); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("node b authenticates a client deleted on node a: %v", err)
	}
}

// A node whose subscription drops forgets everything it cached, since it
// may have missed announcements meanwhile.
func TestCachedClientsResetOnReconnect(t *testing.T) {
	srv := redistest.StartStandalone(t)
	a, b := startCacheNode(t, srv), startCacheNode(t, srv)
	ctx := context.Background()
	c, secret, err := a.reg.Create(ctx, clients.Registration{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	announced(t, c.ID, a, b)
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	// Change the client behind b's back (the raw store: no announcement),
	// then kill the pub/sub connections: only the reset can make b notice.
	stored, err := a.cache.Store.GetClient(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Disabled = true
	if err := a.cache.Store.UpdateClient(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); err != nil {
		t.Fatalf("b's cache should still hold the old record before the drop: %v", err)
	}
	rc := srv.Client(t)
	if err := rc.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	b.awaitReset(t)
	if _, err := b.reg.Authenticate(ctx, c.ID, secret); !errors.Is(err, clients.ErrAuthenticationFailed) {
		t.Fatalf("after its subscription dropped, node b still serves the cached record: %v", err)
	}
}
