package storetest

import (
	"sync"
	"testing"
	"time"

	"authserver/keys"
	"authserver/store"
)

func newKey(alg, kid string, created time.Time) keys.StoredKey {
	return keys.StoredKey{ID: kid, Alg: alg, Sealed: hashOf(), Public: hashOf(), CreatedAt: ms(created)}
}

func checkKey(t *testing.T, got, want keys.StoredKey) {
	t.Helper()
	if got.ID != want.ID || got.Alg != want.Alg || string(got.Sealed) != string(want.Sealed) ||
		string(got.Public) != string(want.Public) || !sameTime(got.CreatedAt, want.CreatedAt) {
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
