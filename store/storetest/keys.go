package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"authserver/keys"
	"authserver/store"
)

func newKey(alg, kid string, created time.Time) keys.StoredKey {
	return keys.StoredKey{ID: kid, Alg: alg, Sealed: hashOf(), Public: hashOf(), CreatedAt: ms(created), ActivatesAt: ms(created.Add(6 * time.Minute))}
}

func checkKey(t *testing.T, got, want keys.StoredKey) {
	t.Helper()
	if got.ID != want.ID || got.Alg != want.Alg || string(got.Sealed) != string(want.Sealed) ||
		string(got.Public) != string(want.Public) || !sameTime(got.CreatedAt, want.CreatedAt) ||
		!sameTime(got.ActivatesAt, want.ActivatesAt) || !sameTime(got.RetiresAt, want.RetiresAt) {
		t.Fatalf("key round trip:\n got  %+v\n want %+v", got, want)
	}
}

// keysOf returns the stored keys with that algorithm, in ListKeys order.
func keysOf(t *testing.T, b store.Backend, alg string) []keys.StoredKey {
	t.Helper()
	all, err := b.ListKeys(t.Context())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	var out []keys.StoredKey
	for _, k := range all {
		if k.Alg == alg {
			out = append(out, k)
		}
	}
	return out
}

func testKeys(t *testing.T, b store.Backend) {
	// Each test uses an algorithm name of its own, because "a key for this
	// algorithm exists" is a question about the whole store.
	t.Run("CreateFirstKey", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		alg := randID("ES256")
		first := newKey(alg, randID("kid"), time.Now())
		got, err := b.CreateFirstKey(ctx, first)
		if err != nil {
			t.Fatalf("CreateFirstKey: %v", err)
		}
		checkKey(t, got, first)

		second := newKey(alg, randID("kid"), time.Now().Add(time.Second))
		got, err = b.CreateFirstKey(ctx, second)
		if err != nil {
			t.Fatalf("second CreateFirstKey: %v", err)
		}
		checkKey(t, got, first)

		other := newKey(randID("RS256"), randID("kid"), time.Now())
		got, err = b.CreateFirstKey(ctx, other)
		if err != nil {
			t.Fatalf("CreateFirstKey for another algorithm: %v", err)
		}
		checkKey(t, got, other)

		stored := keysOf(t, b, alg)
		if len(stored) != 1 {
			t.Fatalf("keys for %s: got %d, want 1: %+v", alg, len(stored), stored)
		}
		checkKey(t, stored[0], first)
	})

	t.Run("CreateFirstKeyAfterAddKey", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		alg := randID("EdDSA")
		added := newKey(alg, randID("kid"), time.Now())
		if err := b.AddKey(ctx, added); err != nil {
			t.Fatalf("AddKey: %v", err)
		}
		got, err := b.CreateFirstKey(ctx, newKey(alg, randID("kid"), time.Now().Add(time.Second)))
		if err != nil {
			t.Fatalf("CreateFirstKey: %v", err)
		}
		checkKey(t, got, added)
		if n := len(keysOf(t, b, alg)); n != 1 {
			t.Fatalf("keys for %s: got %d, want 1", alg, n)
		}
	})

	t.Run("CreateFirstKeyRace", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// Nodes that start together each offer their own key; every one must
		// come back with the same stored key, and only that one is kept.
		const nodes = 8
		alg := randID("ES256")
		offered := map[string]keys.StoredKey{}
		var ks [nodes]keys.StoredKey
		for i := range ks {
			ks[i] = newKey(alg, randID("kid"), time.Now())
			offered[ks[i].ID] = ks[i]
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			got   [nodes]keys.StoredKey
			errs  [nodes]error
		)
		for i := range nodes {
			wg.Go(func() {
				<-start
				got[i], errs[i] = b.CreateFirstKey(ctx, ks[i])
			})
		}
		close(start)
		wg.Wait()
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("CreateFirstKey %d: %v", i, errs[i])
			}
			if got[i].ID != got[0].ID {
				t.Fatalf("nodes disagree on the key: %q and %q", got[0].ID, got[i].ID)
			}
		}
		winner, ok := offered[got[0].ID]
		if !ok {
			t.Fatalf("CreateFirstKey returned a key no node offered: %q", got[0].ID)
		}
		checkKey(t, got[0], winner)
		stored := keysOf(t, b, alg)
		if len(stored) != 1 {
			t.Fatalf("keys for %s after the race: got %d, want 1", alg, len(stored))
		}
		checkKey(t, stored[0], winner)
	})

	t.Run("AddKeyListOldestFirst", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		alg := randID("ES256")
		base := time.Now().Add(-time.Hour)
		// Key IDs sort against age, so an order by ID shows.
		k1 := newKey(alg, randID("z"), base)
		k2 := newKey(alg, randID("m"), base.Add(time.Minute))
		k3 := newKey(alg, randID("a"), base.Add(2*time.Minute))
		if _, err := b.CreateFirstKey(ctx, k1); err != nil {
			t.Fatalf("CreateFirstKey: %v", err)
		}
		for _, k := range []keys.StoredKey{k2, k3} {
			if err := b.AddKey(ctx, k); err != nil {
				t.Fatalf("AddKey: %v", err)
			}
		}
		stored := keysOf(t, b, alg)
		if len(stored) != 3 {
			t.Fatalf("keys for %s: got %d, want 3", alg, len(stored))
		}
		for i, want := range []keys.StoredKey{k1, k2, k3} {
			checkKey(t, stored[i], want)
		}
		// A second CreateFirstKey still answers with the oldest.
		got, err := b.CreateFirstKey(ctx, newKey(alg, randID("kid"), time.Now()))
		if err != nil {
			t.Fatalf("CreateFirstKey: %v", err)
		}
		checkKey(t, got, k1)
	})
}

func testKeyLifecycle(t *testing.T, b store.Backend) {
	t.Run("RetireKey", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		alg := randID("ES256")
		k := newKey(alg, randID("kid"), time.Now())
		other := newKey(alg, randID("kid"), time.Now().Add(time.Millisecond))
		if _, err := b.CreateFirstKey(ctx, k); err != nil {
			t.Fatalf("CreateFirstKey: %v", err)
		}
		if err := b.AddKey(ctx, other); err != nil {
			t.Fatalf("AddKey: %v", err)
		}
		at := ms(time.Now().Add(time.Hour))
		got, err := b.RetireKey(ctx, k.ID, at)
		if err != nil {
			t.Fatalf("RetireKey: %v", err)
		}
		k.RetiresAt = at
		checkKey(t, got, k)
		// A later time keeps the earlier one; an earlier one replaces it.
		if got, err = b.RetireKey(ctx, k.ID, at.Add(time.Hour)); err != nil {
			t.Fatalf("RetireKey later: %v", err)
		}
		checkKey(t, got, k)
		k.RetiresAt = at.Add(-time.Minute)
		if got, err = b.RetireKey(ctx, k.ID, k.RetiresAt); err != nil {
			t.Fatalf("RetireKey earlier: %v", err)
		}
		checkKey(t, got, k)
		stored := keysOf(t, b, alg)
		if len(stored) != 2 {
			t.Fatalf("keys for %s: got %d, want 2", alg, len(stored))
		}
		checkKey(t, stored[0], k)
		checkKey(t, stored[1], other) // untouched
		if _, err := b.RetireKey(ctx, randID("kid"), at); !errors.Is(err, keys.ErrKeyNotFound) {
			t.Fatalf("RetireKey of an unknown kid: err = %v, want ErrKeyNotFound", err)
		}
	})

	t.Run("RetireKeyRace", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// Retiring several keys of one set at once loses no write.
		alg := randID("ES256")
		const n = 8
		var ks [n]keys.StoredKey
		for i := range ks {
			ks[i] = newKey(alg, randID("kid"), time.Now().Add(time.Duration(i)*time.Millisecond))
			if err := b.AddKey(ctx, ks[i]); err != nil {
				t.Fatalf("AddKey: %v", err)
			}
		}
		at := ms(time.Now().Add(time.Hour))
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = b.RetireKey(ctx, ks[i].ID, at) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("RetireKey: %v", err)
		}
		for i, got := range keysOf(t, b, alg) {
			if !sameTime(got.RetiresAt, at) {
				t.Errorf("key %d: RetiresAt = %v, want %v", i, got.RetiresAt, at)
			}
		}
	})

	t.Run("ClaimKeyRotationRace", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// Nodes racing for one scheduled rotation: exactly one wins.
		slot := randID("ES256") + ":" + randID("kid")
		const nodes = 16
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			wins  atomic.Int32
			errs  [nodes]error
		)
		for i := range nodes {
			wg.Go(func() {
				<-start
				won, err := b.ClaimKeyRotation(ctx, slot, time.Hour)
				errs[i] = err
				if won {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatalf("ClaimKeyRotation: %v", err)
		}
		if n := wins.Load(); n != 1 {
			t.Fatalf("%d nodes won the claim, want exactly 1", n)
		}
		if won, err := b.ClaimKeyRotation(ctx, slot, time.Hour); err != nil || won {
			t.Fatalf("claim again = %v, %v; want refused", won, err)
		}
		if won, err := b.ClaimKeyRotation(ctx, randID("ES256")+":"+randID("kid"), time.Hour); err != nil || !won {
			t.Fatalf("claim of another slot = %v, %v; want won", won, err)
		}
	})

	t.Run("ClaimKeyRotationExpires", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		// A winner that died before adding the key gives the slot back
		// after ttl.
		slot := randID("ES256") + ":" + randID("kid")
		const ttl = 50 * time.Millisecond
		claimed := time.Now()
		if won, err := b.ClaimKeyRotation(ctx, slot, ttl); err != nil || !won {
			t.Fatalf("first claim = %v, %v", won, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			won, err := b.ClaimKeyRotation(ctx, slot, ttl)
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if won {
				if since := time.Since(claimed); since < ttl {
					t.Fatalf("slot claimed again after %v, before its ttl of %v", since, ttl)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("slot still held 5s after its ttl")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
