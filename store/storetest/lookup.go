package storetest

import (
	"errors"
	"testing"
	"time"

	"authserver/store"
	"authserver/tokens"
)

func wantLookup(t *testing.T, b store.Backend, id string, hash []byte, now time.Time, want error) tokens.Family {
	t.Helper()
	f, err := b.LookupRefresh(t.Context(), id, hash, ms(now))
	if !errors.Is(err, want) {
		t.Fatalf("LookupRefresh: got %v, want %v", err, want)
	}
	return f
}

// testLookupRefresh: LookupRefresh answers for the current token of a live
// family only, and never changes anything.
func testLookupRefresh(t *testing.T, b store.Backend) {
	t.Run("Current", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		checkFamily(t, wantLookup(t, b, f.ID, t0, now, nil), f)
		// A read: looking up again, or many times, rotates and revokes nothing.
		for range 3 {
			wantLookup(t, b, f.ID, t0, now, nil)
		}
		checkFamily(t, getFamily(t, b, f.ID), f)

		r := rotation(f, t0, now)
		f = rotateOK(t, b, f, r)
		checkFamily(t, wantLookup(t, b, f.ID, r.Next, now, nil), f)
	})

	t.Run("NotCurrent", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		now := time.Now()
		r := rotation(f, t0, now)
		r.Grace = time.Minute
		f = rotateOK(t, b, f, r)
		// The rotated token (even inside a grace window), a token never
		// issued, an empty hash: not found, and the family is untouched, so
		// a lookup is no reuse detector a guesser could trigger.
		for _, h := range [][]byte{t0, hashOf(), nil, {}} {
			wantLookup(t, b, f.ID, h, now, tokens.ErrFamilyNotFound)
		}
		checkFamily(t, getFamily(t, b, f.ID), f)
		rotateOK(t, b, f, rotation(f, r.Next, now))
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		wantLookup(t, b, randID("fam"), hashOf(), time.Now(), tokens.ErrFamilyNotFound)
		wantLookup(t, b, "", hashOf(), time.Now(), tokens.ErrFamilyNotFound)
		id := randID("fam")
		if _, err := b.RevokeFamily(t.Context(), id, time.Minute); !errors.Is(err, tokens.ErrFamilyNotFound) {
			t.Fatalf("RevokeFamily(missing): %v", err)
		}
		wantLookup(t, b, id, hashOf(), time.Now(), tokens.ErrFamilyNotFound) // a tombstone
	})

	t.Run("Revoked", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, nil)
		if _, err := b.RevokeFamily(t.Context(), f.ID, time.Minute); err != nil {
			t.Fatalf("RevokeFamily: %v", err)
		}
		wantLookup(t, b, f.ID, t0, time.Now(), tokens.ErrFamilyRevoked)
		// Without the token, a revoked family looks like no family.
		wantLookup(t, b, f.ID, hashOf(), time.Now(), tokens.ErrFamilyNotFound)
	})

	t.Run("ExpiredAtNow", func(t *testing.T) {
		t.Parallel()
		f, t0 := makeFamily(t, b, func(f *tokens.Family) {
			f.ExpiresAt = f.CreatedAt.Add(2 * time.Hour)
		})
		wantLookup(t, b, f.ID, t0, f.IdleExpiresAt.Add(-time.Second), nil)
		wantLookup(t, b, f.ID, t0, f.IdleExpiresAt, tokens.ErrFamilyNotFound)
		wantLookup(t, b, f.ID, t0, f.ExpiresAt.Add(time.Second), tokens.ErrFamilyNotFound)
	})
}
